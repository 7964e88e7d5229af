package io.pullmesh.tls;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.nio.file.Path;
import java.security.cert.CertPathValidatorException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.asn1.x509.Extension;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LeafIssuerTest {
  static final Instant NOW = Instant.parse("2025-03-01T12:00:00Z");
  static CertificateAuthority ca;
  @TempDir static Path caDir;

  @BeforeAll
  static void makeCa() throws Exception {
    ca = CertificateAuthority.loadOrCreate(caDir, "test", Clock.fixed(NOW, ZoneOffset.UTC));
  }

  static List<List<?>> sans(X509Certificate c) throws Exception {
    Collection<List<?>> s = c.getSubjectAlternativeNames();
    return s == null ? List.of() : new ArrayList<>(s);
  }

  @Test
  void leafHasTheExtensionsStrictClientsWant() throws Exception {
    LeafIssuer issuer = new LeafIssuer(ca, Clock.fixed(NOW, ZoneOffset.UTC));
    Leaf leaf = issuer.forHost("Registry.Ollama.AI.");
    X509Certificate c = leaf.certificate();
    assertEquals("registry.ollama.ai", leaf.host());
    assertEquals(List.of(List.of(2, "registry.ollama.ai")), sans(c), "one dNSName SAN, lower case, no trailing dot");
    assertEquals("CN=registry.ollama.ai,O=pullmesh", c.getSubjectX500Principal().getName());
    assertEquals(ca.certificate().getSubjectX500Principal(), c.getIssuerX500Principal());
    assertEquals(List.of("1.3.6.1.5.5.7.3.1"), c.getExtendedKeyUsage(), "serverAuth");
    boolean[] ku = c.getKeyUsage();
    assertTrue(ku[0], "digitalSignature");
    assertFalse(ku[2], "no keyEncipherment for an EC key");
    assertFalse(ku[5], "no keyCertSign");
    assertEquals(-1, c.getBasicConstraints(), "not a CA");
    assertTrue(c.getCriticalExtensionOIDs().containsAll(Set.of(Extension.basicConstraints.getId(), Extension.keyUsage.getId())));
    assertFalse(c.getCriticalExtensionOIDs().contains(Extension.subjectAlternativeName.getId()));
    assertEquals("EC", c.getPublicKey().getAlgorithm());
    assertEquals("SHA256withECDSA", c.getSigAlgName());
    assertEquals(3, c.getVersion());

    // AuthorityKeyIdentifier [0] keyIdentifier equals the CA's SubjectKeyIdentifier
    byte[] caSki = TlsTestSupport.subjectKeyId(ca.certificate());
    org.bouncycastle.asn1.x509.AuthorityKeyIdentifier aki = org.bouncycastle.asn1.x509.AuthorityKeyIdentifier.getInstance(
        TlsTestSupport.extensionBytes(c, Extension.authorityKeyIdentifier.getId()));
    assertArrayEquals(caSki, aki.getKeyIdentifierOctets());
    assertNull(aki.getAuthorityCertIssuer());
    assertEquals(20, TlsTestSupport.subjectKeyId(c).length, "leaves carry their own key identifier");

    assertEquals(NOW.minus(Duration.ofHours(1)), c.getNotBefore().toInstant());
    assertEquals(NOW.plus(Duration.ofDays(7)), c.getNotAfter().toInstant());
    BigInteger serial = c.getSerialNumber();
    assertEquals(1, serial.signum());
    assertEquals(128, serial.bitLength());
    assertArrayEquals(new X509Certificate[] {c, ca.certificate()}, leaf.chain());
    assertEquals(ca.certificate(), leaf.caCertificate());
  }

  @Test
  void leafValidatesWithPkixAgainstOnlyTheCa() throws Exception {
    LeafIssuer issuer = new LeafIssuer(ca, Clock.fixed(NOW, ZoneOffset.UTC));
    Leaf leaf = issuer.forHost("registry.ollama.ai");
    TlsTestSupport.pkixValidate(leaf.certificate(), ca.certificate(), NOW);
    TlsTestSupport.pkixValidate(leaf.certificate(), ca.certificate(), NOW.plus(Duration.ofDays(6)));
    assertThrows(CertPathValidatorException.class,
        () -> TlsTestSupport.pkixValidate(leaf.certificate(), ca.certificate(), NOW.plus(Duration.ofDays(8))), "expired");
    CertificateAuthority other = CertificateAuthority.loadOrCreate(caDir.resolve("other"), "other", Clock.fixed(NOW, ZoneOffset.UTC));
    assertThrows(CertPathValidatorException.class,
        () -> TlsTestSupport.pkixValidate(leaf.certificate(), other.certificate(), NOW), "another CA does not vouch for it");
  }

  @Test
  void ipLiteralsGetIpAddressSans() throws Exception {
    LeafIssuer issuer = new LeafIssuer(ca, Clock.fixed(NOW, ZoneOffset.UTC));
    assertEquals(List.of(List.of(7, "127.0.0.1")), sans(issuer.forHost("127.0.0.1").certificate()));
    Leaf v6 = issuer.forHost("[::1]");
    assertEquals(1, sans(v6.certificate()).size());
    assertEquals(7, sans(v6.certificate()).get(0).get(0));
    assertEquals("0:0:0:0:0:0:0:1", v6.host());
    assertSame(v6, issuer.forHost("0:0:0:0:0:0:0:1"), "one cache entry per address, whatever its spelling");
    TlsTestSupport.pkixValidate(v6.certificate(), ca.certificate(), NOW);
  }

  @Test
  void wildcardsAndLongNames() throws Exception {
    LeafIssuer issuer = new LeafIssuer(ca, Clock.fixed(NOW, ZoneOffset.UTC));
    Leaf w = issuer.forHost("*.R2.cloudflarestorage.com");
    assertEquals(List.of(List.of(2, "*.r2.cloudflarestorage.com")), sans(w.certificate()));
    String longHost = "pullmesh-models-bucket." + "0123456789abcdef".repeat(2) + ".r2.cloudflarestorage.com";
    assertTrue(longHost.length() > 64);
    Leaf l = issuer.forHost(longHost);
    assertEquals("O=pullmesh", l.certificate().getSubjectX500Principal().getName(), "no CN beyond 64 characters");
    assertEquals(List.of(List.of(2, longHost)), sans(l.certificate()));
    TlsTestSupport.pkixValidate(l.certificate(), ca.certificate(), NOW);
  }

  @Test
  void rejectsWhatIsNotAHost() {
    LeafIssuer issuer = new LeafIssuer(ca, Clock.fixed(NOW, ZoneOffset.UTC));
    for (String bad : List.of("", " ", "a..b", "-a.com", "a b.com", "*.com", "a.*.com", "1.2.3", "256.1.1.1", "fe80::1%eth0",
        "[example.com]", "x".repeat(64) + ".com")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> issuer.forHost(bad), bad);
      assertFalse(e.getMessage().isEmpty());
    }
    assertEquals(0, issuer.mintedCount());
  }

  @Test
  void cachedLeafIsReusedUntilTheRefreshPoint() throws Exception {
    MutableClock clock = new MutableClock(NOW);
    LeafIssuer issuer = new LeafIssuer(ca, clock);
    Leaf first = issuer.forHost("registry.ollama.ai");
    assertSame(first, issuer.forHost("REGISTRY.ollama.ai"));
    clock.advance(Duration.ofDays(6).minusSeconds(1)); // 1 day and 1 second of validity left
    assertSame(first, issuer.forHost("registry.ollama.ai"));
    assertEquals(1, issuer.mintedCount());
    clock.advance(Duration.ofSeconds(1)); // exactly a day left: reissue
    Leaf second = issuer.forHost("registry.ollama.ai");
    assertNotSame(first, second);
    assertNotEquals(first.certificate().getSerialNumber(), second.certificate().getSerialNumber());
    assertNotEquals(first.privateKey(), second.privateKey());
    assertEquals(clock.instant().plus(Duration.ofDays(7)), second.notAfter());
    assertEquals(2, issuer.mintedCount());
    assertEquals(1, issuer.cachedHosts());

    clock.set(NOW.plus(Duration.ofDays(1))); // the clock stepped back before the leaf's start: reissue
    assertNotSame(second, issuer.forHost("registry.ollama.ai"));
  }

  @Test
  void cacheIsBoundedLeastRecentlyUsedFirst() {
    LeafIssuer issuer = new LeafIssuer(ca, Clock.fixed(NOW, ZoneOffset.UTC), Duration.ofDays(7), Duration.ofDays(1), 2);
    Leaf a = issuer.forHost("a.example");
    Leaf b = issuer.forHost("b.example");
    assertSame(a, issuer.forHost("a.example")); // a is now the most recently used
    issuer.forHost("c.example"); // evicts b
    assertEquals(2, issuer.cachedHosts());
    assertSame(a, issuer.forHost("a.example"));
    assertNotSame(b, issuer.forHost("b.example"));
    assertEquals(4, issuer.mintedCount());
    issuer.clear();
    assertEquals(0, issuer.cachedHosts());
  }

  @Test
  void leavesNeverOutliveTheCa() throws Exception {
    Instant nearEnd = ca.notAfter().minus(Duration.ofDays(2));
    MutableClock clock = new MutableClock(nearEnd);
    LeafIssuer issuer = new LeafIssuer(ca, clock);
    Leaf leaf = issuer.forHost("registry.ollama.ai");
    assertEquals(ca.notAfter(), leaf.notAfter());
    TlsTestSupport.pkixValidate(leaf.certificate(), ca.certificate(), nearEnd);
    clock.advance(Duration.ofDays(1).plusHours(12)); // half a day left: reissuing would not help, keep it
    assertSame(leaf, issuer.forHost("registry.ollama.ai"));
    clock.set(ca.notAfter());
    TlsSetupException e = assertThrows(TlsSetupException.class, () -> issuer.forHost("registry.ollama.ai"));
    assertTrue(e.getMessage().contains("expired") && e.getMessage().contains("rotate it"), e.getMessage());
    clock.set(ca.notBefore().minusSeconds(1));
    e = assertThrows(TlsSetupException.class, () -> issuer.forHost("registry.ollama.ai"));
    assertTrue(e.getMessage().contains("check this machine's clock"), e.getMessage());
  }

  @Test
  void leafNotBeforeStaysWithinTheCa() throws Exception {
    // minted in the CA's first hour: backdating would start before the CA does
    Instant early = ca.notBefore().plus(Duration.ofMinutes(30));
    Leaf leaf = new LeafIssuer(ca, Clock.fixed(early, ZoneOffset.UTC)).forHost("registry.ollama.ai");
    assertEquals(ca.notBefore(), leaf.certificate().getNotBefore().toInstant());
  }

  @Test
  void concurrentRequestsForOneHostMintOnce() throws Exception {
    LeafIssuer issuer = new LeafIssuer(ca, Clock.fixed(NOW, ZoneOffset.UTC));
    int threads = 8;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      CountDownLatch ready = new CountDownLatch(threads);
      CountDownLatch go = new CountDownLatch(1);
      List<Future<Leaf>> results = new ArrayList<>();
      for (int i = 0; i < threads; i++) {
        results.add(pool.submit(() -> {
          ready.countDown();
          go.await();
          return issuer.forHost("registry.ollama.ai");
        }));
      }
      ready.await();
      go.countDown();
      Set<Leaf> distinct = new HashSet<>();
      for (Future<Leaf> f : results) {
        distinct.add(f.get(30, TimeUnit.SECONDS));
      }
      assertEquals(1, distinct.size());
      assertEquals(1, issuer.mintedCount());
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void serialsAreUniqueAcrossLeaves() {
    LeafIssuer issuer = new LeafIssuer(ca, Clock.fixed(NOW, ZoneOffset.UTC));
    Set<BigInteger> serials = new HashSet<>();
    for (int i = 0; i < 50; i++) {
      serials.add(issuer.forHost("h" + i + ".example").certificate().getSerialNumber());
    }
    serials.add(ca.certificate().getSerialNumber());
    assertEquals(51, serials.size());
  }

  @Test
  void aRotationReissuesLeavesFromTheNewCa() throws Exception {
    Path dir = caDir.resolve("rotating");
    MutableClock clock = new MutableClock(NOW);
    CertificateAuthority rotating = CertificateAuthority.loadOrCreate(dir, "r", clock);
    LeafIssuer issuer = new LeafIssuer(rotating, clock);
    Leaf before = issuer.forHost("registry.ollama.ai");
    X509Certificate oldCa = rotating.certificate();
    clock.advance(Duration.ofMinutes(1));
    rotating.rotate();
    Leaf after = issuer.forHost("registry.ollama.ai");
    assertNotSame(before, after);
    assertEquals(rotating.certificate(), after.caCertificate());
    TlsTestSupport.pkixValidate(after.certificate(), rotating.certificate(), clock.instant());
    assertThrows(CertPathValidatorException.class, () -> TlsTestSupport.pkixValidate(after.certificate(), oldCa, clock.instant()));
  }

  @Test
  void settingsAreChecked() {
    Clock c = Clock.fixed(NOW, ZoneOffset.UTC);
    assertThrows(IllegalArgumentException.class, () -> new LeafIssuer(ca, c, Duration.ofDays(1), Duration.ofDays(1), 10));
    assertThrows(IllegalArgumentException.class, () -> new LeafIssuer(ca, c, Duration.ofSeconds(10), Duration.ZERO, 10));
    assertThrows(IllegalArgumentException.class, () -> new LeafIssuer(ca, c, Duration.ofDays(7), Duration.ofDays(1), 0));
  }
}
