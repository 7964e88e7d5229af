package io.pullmesh.tls;

import java.math.BigInteger;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Date;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/** Small certificate helpers shared by the CA and the leaf issuer. */
final class Certs {
  private static final char[] HEX = "0123456789ABCDEF".toCharArray();

  private Certs() {}

  /** A random positive serial number of exactly 128 bits (its DER encoding is 17 bytes, under the 20 allowed). */
  static BigInteger serial(SecureRandom random) {
    return new BigInteger(128, random).setBit(127);
  }

  /** Certificate times have whole seconds; truncating first keeps what we compute equal to what is encoded. */
  static Date date(Instant t) {
    return Date.from(t.truncatedTo(ChronoUnit.SECONDS));
  }

  static SubjectPublicKeyInfo publicKeyInfo(PublicKey key) {
    return SubjectPublicKeyInfo.getInstance(key.getEncoded());
  }

  /** The key identifier of RFC 5280 section 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
  static byte[] keyIdentifier(PublicKey key) {
    return sha(publicKeyInfo(key).getPublicKeyData().getBytes(), "SHA-1");
  }

  /** SHA-256 of the DER certificate as colon-separated upper-case hex, the way {@code openssl x509 -fingerprint} shows it. */
  static String fingerprint(X509Certificate certificate) {
    byte[] d;
    try {
      d = sha(certificate.getEncoded(), "SHA-256");
    } catch (CertificateEncodingException e) {
      throw new IllegalArgumentException("certificate cannot be encoded", e);
    }
    StringBuilder sb = new StringBuilder(d.length * 3);
    for (byte b : d) {
      if (sb.length() > 0) {
        sb.append(':');
      }
      sb.append(HEX[(b >> 4) & 0xf]).append(HEX[b & 0xf]);
    }
    return sb.toString();
  }

  static ContentSigner signer(String signatureAlgorithm, PrivateKey key) {
    try {
      return new JcaContentSignerBuilder(signatureAlgorithm).build(key);
    } catch (OperatorCreationException e) {
      throw new IllegalStateException("cannot sign with " + signatureAlgorithm + ": " + e.getMessage(), e);
    }
  }

  static X509Certificate toX509(X509CertificateHolder holder) {
    try {
      return new JcaX509CertificateConverter().getCertificate(holder);
    } catch (CertificateException e) {
      throw new IllegalStateException("the JDK rejected a certificate pullmesh built: " + e.getMessage(), e);
    }
  }

  private static byte[] sha(byte[] data, String algorithm) {
    try {
      return MessageDigest.getInstance(algorithm).digest(data);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(algorithm + " is missing from this JDK", e);
    }
  }
}
