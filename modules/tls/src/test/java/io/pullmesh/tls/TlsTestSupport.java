package io.pullmesh.tls;

import java.nio.ByteBuffer;
import java.security.KeyStore;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXCertPathValidatorResult;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.ASN1Primitive;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;

/** Helpers shared by the tests: PKIX validation with one anchor, trust stores, extension decoding. */
final class TlsTestSupport {
  private TlsTestSupport() {}

  /** Validates leaf→CA with the JDK's PKIX validator, the CA as the only trust anchor, at {@code at}. */
  static PKIXCertPathValidatorResult pkixValidate(X509Certificate leaf, X509Certificate ca, Instant at) throws Exception {
    CertificateFactory cf = CertificateFactory.getInstance("X.509");
    PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(ca, null)));
    params.setRevocationEnabled(false);
    params.setDate(Date.from(at));
    return (PKIXCertPathValidatorResult) CertPathValidator.getInstance("PKIX")
        .validate(cf.generateCertPath(List.of(leaf)), params);
  }

  static KeyStore trustStore(X509Certificate ca) throws Exception {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    ks.setCertificateEntry("pullmesh-ca", ca);
    return ks;
  }

  static TrustManagerFactory trustOnly(X509Certificate ca) throws Exception {
    TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
    tmf.init(trustStore(ca));
    return tmf;
  }

  /** A client context that trusts only {@code ca}. */
  static SSLContext clientTrusting(X509Certificate ca) throws Exception {
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, trustOnly(ca).getTrustManagers(), null);
    return ctx;
  }

  /** A client context that trusts only the JDK's default trust store (cacerts). */
  static SSLContext clientTrustingJdkDefaults() throws Exception {
    TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
    tmf.init((KeyStore) null);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    return ctx;
  }

  /**
   * Runs a TLS handshake between two engines in memory, as Netty would drive the server's engine, until both
   * finish. Throws what either engine throws (e.g. the client rejecting the server's certificate).
   */
  static void handshake(SSLEngine client, SSLEngine server) throws SSLException {
    int size = 1 << 17;
    ByteBuffer c2s = ByteBuffer.allocate(size);
    ByteBuffer s2c = ByteBuffer.allocate(size);
    ByteBuffer clientApp = ByteBuffer.allocate(size);
    ByteBuffer serverApp = ByteBuffer.allocate(size);
    client.beginHandshake();
    server.beginHandshake();
    for (int round = 0; round < 100; round++) {
      boolean progress = step(client, c2s, s2c, clientApp);
      progress |= step(server, s2c, c2s, serverApp);
      if (finished(client) && finished(server)) {
        return;
      }
      if (!progress) {
        throw new IllegalStateException("handshake stalled: client " + client.getHandshakeStatus() + ", server " + server.getHandshakeStatus());
      }
    }
    throw new IllegalStateException("handshake did not finish in 100 rounds");
  }

  private static boolean finished(SSLEngine e) {
    return e.getHandshakeStatus() == HandshakeStatus.NOT_HANDSHAKING || e.getHandshakeStatus() == HandshakeStatus.FINISHED;
  }

  /** Lets one engine do all it can with what it has received; true if it did anything. */
  private static boolean step(SSLEngine e, ByteBuffer out, ByteBuffer in, ByteBuffer app) throws SSLException {
    boolean progress = false;
    while (true) {
      SSLEngineResult r;
      switch (e.getHandshakeStatus()) {
        case NEED_TASK:
          for (Runnable t = e.getDelegatedTask(); t != null; t = e.getDelegatedTask()) {
            t.run();
          }
          progress = true;
          break;
        case NEED_WRAP:
          r = e.wrap(ByteBuffer.allocate(0), out);
          if (r.getStatus() != SSLEngineResult.Status.OK && r.getStatus() != SSLEngineResult.Status.CLOSED) {
            throw new IllegalStateException("wrap: " + r);
          }
          if (r.bytesProduced() == 0 && r.getHandshakeStatus() == HandshakeStatus.NEED_WRAP) {
            return progress;
          }
          progress = true;
          if (r.getStatus() == SSLEngineResult.Status.CLOSED) {
            return progress;
          }
          break;
        case NEED_UNWRAP:
          in.flip();
          try {
            r = e.unwrap(in, app);
          } finally {
            in.compact();
          }
          if (r.getStatus() == SSLEngineResult.Status.BUFFER_UNDERFLOW || r.bytesConsumed() == 0) {
            return progress;
          }
          progress = true;
          break;
        default:
          return progress;
      }
    }
  }

  /** An extension's extnValue (the DER its OCTET STRING wraps), or null if absent. */
  static byte[] extensionBytes(X509Certificate cert, String oid) throws Exception {
    byte[] outer = cert.getExtensionValue(oid);
    if (outer == null) {
      return null;
    }
    return ASN1OctetString.getInstance(ASN1Primitive.fromByteArray(outer)).getOctets();
  }

  /** The certificate's SubjectKeyIdentifier, or null. */
  static byte[] subjectKeyId(X509Certificate cert) throws Exception {
    byte[] v = extensionBytes(cert, Extension.subjectKeyIdentifier.getId());
    return v == null ? null : SubjectKeyIdentifier.getInstance(v).getKeyIdentifier();
  }
}
