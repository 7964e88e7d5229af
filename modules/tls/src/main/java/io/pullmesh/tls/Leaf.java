package io.pullmesh.tls;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;

/**
 * A leaf certificate minted for one host, its private key, and the CA certificate that signed it.
 *
 * @param host the normalized host it was minted for (lower case, no trailing dot; canonical text for IP literals)
 * @param privateKey the leaf's ECDSA P-256 private key
 * @param certificate the leaf certificate
 * @param caCertificate the CA certificate that signed it (the rest of the chain)
 */
public record Leaf(String host, PrivateKey privateKey, X509Certificate certificate, X509Certificate caCertificate) {
  /** The chain to present in a handshake: leaf first, then the CA. A new array on every call. */
  public X509Certificate[] chain() {
    return new X509Certificate[] {certificate, caCertificate};
  }

  /** When the leaf expires. */
  public Instant notAfter() {
    return certificate.getNotAfter().toInstant();
  }
}
