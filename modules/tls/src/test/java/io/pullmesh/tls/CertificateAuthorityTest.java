package io.pullmesh.tls;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.bouncycastle.asn1.x509.Extension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CertificateAuthorityTest {
  static final Instant NOW = Instant.parse("2025-03-01T12:00:00Z");
  final Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);
  @TempDir Path tmp;

  @Test
  void createsOnceWithOwnerOnlyKeyAndCaExtensions() throws Exception {
    Path dir = tmp.resolve("tls");
    CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir, "node-1", clock);
    assertTrue(ca.createdNow());
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("ca.key"))));
    assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("ca.crt"))));
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(List.of("ca.crt", "ca.key", "ca.lock"), files.map(p -> p.getFileName().toString()).sorted().toList(),
          "no temporary files left behind");
    }
    assertTrue(Files.readString(dir.resolve("ca.key")).startsWith("-----BEGIN PRIVATE KEY-----\n"), "PKCS#8 PEM");
    assertEquals(ca.certificatePem(), Files.readString(dir.resolve("ca.crt")));

    X509Certificate cert = ca.certificate();
    assertEquals("CN=pullmesh CA (node-1),OU=created 2025-03-01T12:00:00Z,O=pullmesh", cert.getSubjectX500Principal().getName());
    assertEquals(cert.getSubjectX500Principal(), cert.getIssuerX500Principal());
    cert.verify(cert.getPublicKey()); // self-signed
    assertEquals("SHA256withECDSA", cert.getSigAlgName());
    assertTrue(cert.getPublicKey() instanceof ECPublicKey);
    assertEquals(256, ((ECPublicKey) cert.getPublicKey()).getParams().getCurve().getField().getFieldSize());
    assertEquals(NOW.minus(Duration.ofHours(1)), cert.getNotBefore().toInstant());
    assertEquals(NOW.plus(CertificateAuthority.VALIDITY), cert.getNotAfter().toInstant());
    assertEquals(cert.getNotAfter().toInstant(), ca.notAfter());
    assertTrue(Duration.between(NOW, ca.notAfter()).toDays() >= 3652, "about ten years");

    assertEquals(0, cert.getBasicConstraints(), "CA:TRUE with pathLen 0");
    assertTrue(cert.getCriticalExtensionOIDs().contains(Extension.basicConstraints.getId()));
    assertTrue(cert.getCriticalExtensionOIDs().contains(Extension.keyUsage.getId()));
    boolean[] ku = cert.getKeyUsage();
    assertTrue(ku[5], "keyCertSign");
    assertTrue(ku[6], "cRLSign");
    assertFalse(ku[0], "no digitalSignature");
    byte[] ski = TlsTestSupport.subjectKeyId(cert);
    assertNotNull(ski);
    assertEquals(20, ski.length);
    BigInteger serial = cert.getSerialNumber();
    assertEquals(1, serial.signum());
    assertEquals(128, serial.bitLength());
  }

  @Test
  void fingerprintIsSha256OfTheDer() throws Exception {
    CertificateAuthority ca = CertificateAuthority.loadOrCreate(tmp, "n", clock);
    byte[] d = MessageDigest.getInstance("SHA-256").digest(ca.certificate().getEncoded());
    assertEquals(HexFormat.ofDelimiter(":").withUpperCase().formatHex(d), ca.fingerprintSha256());
  }

  @Test
  void reloadReusesTheSameCaWhateverAlgorithmIsAskedFor() throws Exception {
    CertificateAuthority first = CertificateAuthority.loadOrCreate(tmp, "node-1", clock);
    Clock later = Clock.offset(clock, Duration.ofDays(30));
    CertificateAuthority again = CertificateAuthority.loadOrCreate(tmp, "renamed", KeyAlgorithm.RSA_3072, later);
    assertFalse(again.createdNow());
    assertEquals(first.fingerprintSha256(), again.fingerprintSha256());
    assertEquals(first.certificate(), again.certificate());
    assertEquals("SHA256withECDSA", again.certificate().getSigAlgName(), "the CA on disk wins; no RSA key was made");
  }

  @Test
  void refusesAKeyFileOthersCanRead() throws Exception {
    CertificateAuthority.loadOrCreate(tmp, "n", clock);
    Path key = tmp.resolve("ca.key");
    for (String mode : List.of("rw-r--r--", "rw-r-----", "rw-----w-")) {
      Files.setPosixFilePermissions(key, PosixFilePermissions.fromString(mode));
      TlsSetupException e = assertThrows(TlsSetupException.class, () -> CertificateAuthority.loadOrCreate(tmp, "n", clock));
      assertTrue(e.getMessage().contains(key.toString()), e.getMessage());
      assertTrue(e.getMessage().contains("chmod 600"), e.getMessage());
      assertTrue(e.getMessage().contains("delete ca.key and ca.crt"), e.getMessage());
    }
    Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r--r--"));
    TlsSetupException e = assertThrows(TlsSetupException.class, () -> CertificateAuthority.loadOrCreate(tmp, "n", clock));
    assertTrue(e.getMessage().contains("(mode 0644)"), e.getMessage());
    Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("r--------"));
    CertificateAuthority.loadOrCreate(tmp, "n", clock); // read-only for the owner is fine
  }

  @Test
  void refusesACertificateThatDoesNotMatchTheKey() throws Exception {
    Path a = tmp.resolve("a");
    Path b = tmp.resolve("b");
    CertificateAuthority.loadOrCreate(a, "a", clock);
    CertificateAuthority.loadOrCreate(b, "b", clock);
    Files.copy(b.resolve("ca.crt"), a.resolve("ca.crt"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    TlsSetupException e = assertThrows(TlsSetupException.class, () -> CertificateAuthority.loadOrCreate(a, "a", clock));
    assertTrue(e.getMessage().contains("does not match the key"), e.getMessage());
    assertTrue(e.getMessage().contains("ca.crt.<time>"), e.getMessage());
  }

  @Test
  void refusesHalfACa() throws Exception {
    CertificateAuthority.loadOrCreate(tmp, "n", clock);
    Files.delete(tmp.resolve("ca.crt"));
    TlsSetupException e = assertThrows(TlsSetupException.class, () -> CertificateAuthority.loadOrCreate(tmp, "n", clock));
    assertTrue(e.getMessage().contains("holds ca.key but no ca.crt"), e.getMessage());
    Files.delete(tmp.resolve("ca.key"));
    assertTrue(CertificateAuthority.loadOrCreate(tmp, "n", clock).createdNow(), "neither file: a new CA");
    Files.delete(tmp.resolve("ca.key"));
    e = assertThrows(TlsSetupException.class, () -> CertificateAuthority.loadOrCreate(tmp, "n", clock));
    assertTrue(e.getMessage().contains("holds ca.crt but no ca.key"), e.getMessage());
  }

  @Test
  void refusesANonCaCertificateAndGarbage() throws Exception {
    CertificateAuthority ca = CertificateAuthority.loadOrCreate(tmp, "n", clock);
    Leaf leaf = new LeafIssuer(ca, clock).forHost("example.com");
    Files.writeString(tmp.resolve("ca.crt"), Pem.toPem(leaf.certificate()));
    Pem.writePrivateKey(tmp.resolve("ca.key"), leaf.privateKey());
    TlsSetupException e = assertThrows(TlsSetupException.class, () -> CertificateAuthority.loadOrCreate(tmp, "n", clock));
    assertTrue(e.getMessage().contains("is not a CA certificate"), e.getMessage());

    Files.writeString(tmp.resolve("ca.crt"), "not a certificate\n");
    e = assertThrows(TlsSetupException.class, () -> CertificateAuthority.loadOrCreate(tmp, "n", clock));
    assertTrue(e.getMessage().contains(tmp.resolve("ca.crt") + " holds no PEM certificate"), e.getMessage());
  }

  @Test
  void rotateKeepsTheOldFilesAndMakesANewCa() throws Exception {
    MutableClock mc = new MutableClock(NOW);
    CertificateAuthority ca = CertificateAuthority.loadOrCreate(tmp, "node-1", mc);
    String oldFingerprint = ca.fingerprintSha256();
    String oldKey = Files.readString(tmp.resolve("ca.key"));
    String oldCrt = Files.readString(tmp.resolve("ca.crt"));
    mc.advance(Duration.ofDays(400));

    CertificateAuthority.Rotation r = ca.rotate();
    assertEquals(tmp.resolve("ca.crt.20260405T120000Z"), r.previousCertificate());
    assertEquals(tmp.resolve("ca.key.20260405T120000Z"), r.previousKey());
    assertEquals(oldCrt, Files.readString(r.previousCertificate()));
    assertEquals(oldKey, Files.readString(r.previousKey()));
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(r.previousKey())));
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(tmp.resolve("ca.key"))));
    assertEquals(oldFingerprint, r.previousFingerprint());
    assertNotEquals(oldFingerprint, ca.fingerprintSha256());
    assertEquals(ca.fingerprintSha256(), r.newFingerprint());
    assertEquals(mc.instant().plus(CertificateAuthority.VALIDITY), ca.notAfter());
    assertEquals("CN=pullmesh CA (node-1),OU=created 2026-04-05T12:00:00Z,O=pullmesh",
        ca.certificate().getSubjectX500Principal().getName(), "a new CA has a subject distinct from the old one");

    // a second rotation in the same second does not overwrite the first's copies
    CertificateAuthority.Rotation r2 = ca.rotate();
    assertEquals(tmp.resolve("ca.crt.20260405T120000Z-2"), r2.previousCertificate());
    assertEquals(r.newFingerprint(), r2.previousFingerprint());

    CertificateAuthority reloaded = CertificateAuthority.loadOrCreate(tmp, "node-1", mc);
    assertEquals(ca.fingerprintSha256(), reloaded.fingerprintSha256());
    assertArrayEquals(ca.certificate().getEncoded(), Pem.readCertificate(tmp.resolve("ca.crt")).getEncoded());
  }

  @Test
  void concurrentFirstStartsAgreeOnOneCa() throws Exception {
    Path dir = tmp.resolve("shared");
    int n = 4;
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      CountDownLatch go = new CountDownLatch(1);
      List<Future<CertificateAuthority>> results = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        results.add(pool.submit(() -> {
          go.await();
          return CertificateAuthority.loadOrCreate(dir, "n", clock);
        }));
      }
      go.countDown();
      Set<String> fingerprints = new HashSet<>();
      int created = 0;
      for (Future<CertificateAuthority> f : results) {
        CertificateAuthority ca = f.get(30, TimeUnit.SECONDS);
        fingerprints.add(ca.fingerprintSha256());
        created += ca.createdNow() ? 1 : 0;
      }
      assertEquals(1, fingerprints.size());
      assertEquals(1, created);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void nodeNameIsCheckedAndKeptShort() throws Exception {
    assertThrows(IllegalArgumentException.class, () -> CertificateAuthority.loadOrCreate(tmp, " ", clock));
    assertThrows(IllegalArgumentException.class, () -> CertificateAuthority.loadOrCreate(tmp, "a\nb", clock));
    CertificateAuthority ca = CertificateAuthority.loadOrCreate(tmp, "n".repeat(80), clock);
    String cn = ca.certificate().getSubjectX500Principal().getName().split(",")[0];
    assertEquals("CN=pullmesh CA (" + "n".repeat(50) + ")", cn);
    assertTrue(cn.length() - 3 <= 64);
  }

  @Test
  void keyAlgorithmParsesConfigNames() {
    assertEquals(KeyAlgorithm.ECDSA_P256, KeyAlgorithm.parse("ecdsa-p256"));
    assertEquals(KeyAlgorithm.RSA_3072, KeyAlgorithm.parse("RSA_3072"));
    assertEquals(KeyAlgorithm.ECDSA_P256, KeyAlgorithm.defaultAlgorithm());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KeyAlgorithm.parse("dsa"));
    assertTrue(e.getMessage().contains("ecdsa-p256"), e.getMessage());
  }
}
