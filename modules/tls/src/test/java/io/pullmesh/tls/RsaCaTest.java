package io.pullmesh.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.security.interfaces.RSAPublicKey;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An RSA 3072 CA (generated once for the class: it takes a while) signing EC leaves. */
class RsaCaTest {
  /** Handshakes check validity against the real time, so the injected clock starts at it (fixed). */
  static final Instant NOW = Instant.now().truncatedTo(ChronoUnit.SECONDS);
  static CertificateAuthority ca;
  static LeafIssuer issuer;
  @TempDir static Path dir;

  @BeforeAll
  static void setUp() throws Exception {
    ca = CertificateAuthority.loadOrCreate(dir, "rsa-node", KeyAlgorithm.RSA_3072, Clock.fixed(NOW, ZoneOffset.UTC));
    issuer = new LeafIssuer(ca, Clock.fixed(NOW, ZoneOffset.UTC));
  }

  @Test
  void caIsRsa3072AndReloads() throws Exception {
    X509Certificate c = ca.certificate();
    assertEquals("SHA256withRSA", c.getSigAlgName());
    assertEquals(3072, ((RSAPublicKey) c.getPublicKey()).getModulus().bitLength());
    assertEquals(0, c.getBasicConstraints());
    assertTrue(c.getKeyUsage()[5]);
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(ca.keyFile())));
    CertificateAuthority again = CertificateAuthority.loadOrCreate(dir, "rsa-node", Clock.fixed(NOW, ZoneOffset.UTC));
    assertFalse(again.createdNow());
    assertEquals(ca.fingerprintSha256(), again.fingerprintSha256());
  }

  @Test
  void leavesAreEcSignedWithRsaAndValidate() throws Exception {
    Leaf leaf = issuer.forHost("registry.ollama.ai");
    assertEquals("SHA256withRSA", leaf.certificate().getSigAlgName());
    assertEquals("EC", leaf.certificate().getPublicKey().getAlgorithm());
    assertFalse(leaf.certificate().getKeyUsage()[2], "EC leaf key: digitalSignature only");
    TlsTestSupport.pkixValidate(leaf.certificate(), ca.certificate(), NOW);
    TlsTestSupport.pkixValidate(issuer.forHost("127.0.0.1").certificate(), ca.certificate(), NOW);
  }

  @Test
  void handshakeWithALeafFromTheRsaCa() throws Exception {
    for (String protocol : List.of("TLSv1.3", "TLSv1.2")) {
      SSLEngine server = SniKeyManager.serverContext(issuer, "registry.ollama.ai").createSSLEngine();
      server.setUseClientMode(false);
      SSLEngine client = TlsTestSupport.clientTrusting(ca.certificate()).createSSLEngine("registry.ollama.ai", 443);
      client.setUseClientMode(true);
      SSLParameters p = client.getSSLParameters();
      p.setEndpointIdentificationAlgorithm("HTTPS");
      p.setServerNames(List.of(new SNIHostName("registry.ollama.ai")));
      p.setProtocols(new String[] {protocol});
      client.setSSLParameters(p);
      TlsTestSupport.handshake(client, server);
      assertEquals(protocol, client.getSession().getProtocol());
      X509Certificate peer = (X509Certificate) client.getSession().getPeerCertificates()[0];
      assertEquals("CN=registry.ollama.ai,O=pullmesh", peer.getSubjectX500Principal().getName());
    }
  }

  @Test
  void opensslVerifiesTheRsaChain() throws Exception {
    OpenSsl.assumeAvailable();
    Path leaf = dir.resolve("leaf.pem");
    Files.writeString(leaf, Pem.toPem(issuer.forHost("registry.ollama.ai").certificate()));
    OpenSsl.Result r = OpenSsl.run(dir, "verify", "-x509_strict", "-purpose", "sslserver",
        "-attime", Long.toString(NOW.getEpochSecond()), "-verify_hostname", "registry.ollama.ai",
        "-CAfile", ca.certificateFile().toString(), leaf.toString());
    assertEquals(0, r.exit(), r.output());
  }
}
