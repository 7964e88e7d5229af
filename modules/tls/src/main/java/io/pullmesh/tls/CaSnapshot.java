package io.pullmesh.tls;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import org.bouncycastle.asn1.x500.X500Name;

/**
 * One CA generation: what the leaf issuer needs to sign with it. Replaced as a whole by a rotation, so a leaf is
 * always signed by a key and named after a certificate that belong together.
 *
 * @param subject the CA's subject exactly as encoded in its certificate (leaves' issuer must match it byte for byte)
 * @param keyIdentifier the CA's subject key identifier, for the leaves' authority key identifier
 */
record CaSnapshot(
    X509Certificate certificate,
    PrivateKey key,
    X500Name subject,
    byte[] keyIdentifier,
    String signatureAlgorithm,
    Instant notBefore,
    Instant notAfter,
    String pem,
    String fingerprint) {}
