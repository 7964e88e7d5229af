package io.pullmesh.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CA and its leaves as OpenSSL sees them: verified in strict mode at the injected time, extensions as intended. */
class OpenSslCrossCheckTest {
  static final Instant NOW = Instant.parse("2025-03-01T12:00:00Z");
  static final String AT = Long.toString(NOW.getEpochSecond());
  static CertificateAuthority ca;
  static LeafIssuer issuer;
  @TempDir static Path dir;

  @BeforeAll
  static void setUp() throws Exception {
    ca = CertificateAuthority.loadOrCreate(dir.resolve("ca"), "node-1", Clock.fixed(NOW, ZoneOffset.UTC));
    issuer = new LeafIssuer(ca, Clock.fixed(NOW, ZoneOffset.UTC));
  }

  @BeforeEach
  void needsOpenSsl() {
    OpenSsl.assumeAvailable();
  }

  static Path write(String name, String pem) throws Exception {
    Path p = dir.resolve(name);
    Files.writeString(p, pem);
    return p;
  }

  static void assertOk(OpenSsl.Result r) {
    assertEquals(0, r.exit(), r.output());
  }

  @Test
  void opensslVerifiesLeavesStrictlyForTheirHostOnly() throws Exception {
    String caFile = ca.certificateFile().toString();
    Path leaf = write("registry.pem", Pem.toPem(issuer.forHost("registry.ollama.ai").certificate()));
    OpenSsl.Result ok = OpenSsl.run(dir, "verify", "-x509_strict", "-purpose", "sslserver", "-attime", AT,
        "-verify_hostname", "registry.ollama.ai", "-CAfile", caFile, leaf.toString());
    assertOk(ok);
    assertTrue(ok.output().contains(": OK"), ok.output());

    OpenSsl.Result wrongHost = OpenSsl.run(dir, "verify", "-attime", AT, "-verify_hostname", "ollama.com", "-CAfile", caFile, leaf.toString());
    assertNotEquals(0, wrongHost.exit(), wrongHost.output());
    assertTrue(wrongHost.output().contains("hostname mismatch"), wrongHost.output());

    String later = Long.toString(NOW.plus(Duration.ofDays(8)).getEpochSecond());
    OpenSsl.Result expired = OpenSsl.run(dir, "verify", "-attime", later, "-CAfile", caFile, leaf.toString());
    assertTrue(expired.output().contains("certificate has expired"), expired.output());

    Path ip = write("ip.pem", Pem.toPem(issuer.forHost("127.0.0.1").certificate()));
    assertOk(OpenSsl.run(dir, "verify", "-x509_strict", "-purpose", "sslserver", "-attime", AT, "-verify_ip", "127.0.0.1",
        "-CAfile", caFile, ip.toString()));

    Path wildcard = write("wildcard.pem", Pem.toPem(issuer.forHost("*.r2.cloudflarestorage.com").certificate()));
    assertOk(OpenSsl.run(dir, "verify", "-x509_strict", "-purpose", "sslserver", "-attime", AT,
        "-verify_hostname", "bucket.r2.cloudflarestorage.com", "-CAfile", caFile, wildcard.toString()));
  }

  @Test
  void opensslShowsTheIntendedExtensions() throws Exception {
    String caText = OpenSsl.run(dir, "x509", "-noout", "-text", "-in", ca.certificateFile().toString()).output();
    assertTrue(caText.contains("X509v3 Basic Constraints: critical"), caText);
    assertTrue(caText.contains("CA:TRUE, pathlen:0"), caText);
    assertTrue(caText.contains("X509v3 Key Usage: critical"), caText);
    assertTrue(caText.contains("Certificate Sign, CRL Sign"), caText);
    assertTrue(caText.contains("X509v3 Subject Key Identifier"), caText);
    assertTrue(caText.contains("Subject: O = pullmesh, OU = created 2025-03-01T12:00:00Z, CN = pullmesh CA (node-1)"), caText);
    assertTrue(caText.contains("ecdsa-with-SHA256"), caText);
    assertTrue(caText.contains("NIST CURVE: P-256"), caText);

    Path leaf = write("leaf-text.pem", Pem.toPem(issuer.forHost("registry.ollama.ai").certificate()));
    String text = OpenSsl.run(dir, "x509", "-noout", "-text", "-in", leaf.toString()).output();
    assertTrue(text.contains("X509v3 Subject Alternative Name"), text);
    assertTrue(text.contains("DNS:registry.ollama.ai"), text);
    assertTrue(text.contains("TLS Web Server Authentication"), text);
    assertTrue(text.contains("X509v3 Key Usage: critical"), text);
    assertTrue(text.contains("Digital Signature"), text);
    assertTrue(text.contains("CA:FALSE"), text);
    assertTrue(text.contains("X509v3 Authority Key Identifier"), text);
    assertTrue(text.contains("Subject: O = pullmesh, CN = registry.ollama.ai"), text);

    Path ip = write("ip-text.pem", Pem.toPem(issuer.forHost("127.0.0.1").certificate()));
    assertTrue(OpenSsl.run(dir, "x509", "-noout", "-text", "-in", ip.toString()).output().contains("IP Address:127.0.0.1"));
  }

  @Test
  void opensslReadsTheKeyAndAgreesOnTheFingerprint() throws Exception {
    OpenSsl.Result key = OpenSsl.run(dir, "pkey", "-in", ca.keyFile().toString(), "-noout", "-text");
    assertOk(key);
    assertTrue(key.output().contains("Private-Key: (256 bit"), key.output());
    OpenSsl.Result fp = OpenSsl.run(dir, "x509", "-noout", "-fingerprint", "-sha256", "-in", ca.certificateFile().toString());
    assertOk(fp);
    assertTrue(fp.output().trim().endsWith("=" + ca.fingerprintSha256()), fp.output() + " vs " + ca.fingerprintSha256());
    // the key and certificate OpenSSL sees belong together
    String fromKey = OpenSsl.run(dir, "pkey", "-in", ca.keyFile().toString(), "-pubout").output();
    String fromCert = OpenSsl.run(dir, "x509", "-in", ca.certificateFile().toString(), "-noout", "-pubkey").output();
    assertEquals(fromCert, fromKey);
  }

  @Test
  void pemReadsWhatOpensslWrites() throws Exception {
    assertOk(OpenSsl.run(dir, "ecparam", "-genkey", "-name", "prime256v1", "-out", "ec-trad.pem"));
    assertEquals("EC", Pem.readPrivateKey(dir.resolve("ec-trad.pem")).getAlgorithm());
    assertOk(OpenSsl.run(dir, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", "rsa-pkcs8.pem"));
    assertEquals("RSA", Pem.readPrivateKey(dir.resolve("rsa-pkcs8.pem")).getAlgorithm());
    assertOk(OpenSsl.run(dir, "pkey", "-in", "rsa-pkcs8.pem", "-traditional", "-out", "rsa-pkcs1.pem"));
    assertTrue(Files.readString(dir.resolve("rsa-pkcs1.pem")).startsWith("-----BEGIN RSA PRIVATE KEY-----"));
    assertEquals("RSA", Pem.readPrivateKey(dir.resolve("rsa-pkcs1.pem")).getAlgorithm());
    assertOk(OpenSsl.run(dir, "x509", "-in", ca.certificateFile().toString(), "-trustout", "-addtrust", "serverAuth", "-out", "trusted.pem"));
    assertTrue(Files.readString(dir.resolve("trusted.pem")).startsWith("-----BEGIN TRUSTED CERTIFICATE-----"));
    assertEquals(ca.certificate(), Pem.readCertificates(dir.resolve("trusted.pem")).get(0));
  }
}
