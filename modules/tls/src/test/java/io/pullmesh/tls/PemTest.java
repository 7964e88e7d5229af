package io.pullmesh.tls;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.List;
import org.bouncycastle.asn1.ASN1BitString;
import org.bouncycastle.asn1.pkcs.EncryptedPrivateKeyInfo;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.sec.ECPrivateKey;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PemTest {
  static final Instant NOW = Instant.parse("2025-03-01T12:00:00Z");
  static CertificateAuthority ca;
  static LeafIssuer issuer;
  static KeyPair rsa;
  @TempDir static Path caDir;
  @TempDir Path tmp;

  @BeforeAll
  static void setUp() throws Exception {
    ca = CertificateAuthority.loadOrCreate(caDir, "pem", Clock.fixed(NOW, ZoneOffset.UTC));
    issuer = new LeafIssuer(ca, Clock.fixed(NOW, ZoneOffset.UTC));
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048);
    rsa = g.generateKeyPair();
  }

  static String traditional(PrivateKey key) throws Exception {
    StringWriter w = new StringWriter();
    try (JcaPEMWriter pw = new JcaPEMWriter(w)) {
      pw.writeObject(key);
    }
    return w.toString();
  }

  /** The key as OpenSSL writes an {@code EC PRIVATE KEY}: SEC1 with the curve and the public key inside. */
  static String sec1(Leaf leaf) throws Exception {
    PrivateKeyInfo pkcs8 = PrivateKeyInfo.getInstance(leaf.privateKey().getEncoded());
    ECPrivateKey bare = ECPrivateKey.getInstance(pkcs8.parsePrivateKey());
    ASN1BitString publicKey = SubjectPublicKeyInfo.getInstance(leaf.certificate().getPublicKey().getEncoded()).getPublicKeyData();
    byte[] der = new ECPrivateKey(256, bare.getKey(), publicKey, pkcs8.getPrivateKeyAlgorithm().getParameters()).getEncoded();
    return "-----BEGIN EC PRIVATE KEY-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END EC PRIVATE KEY-----\n";
  }

  @Test
  void certificateRoundTripsInTheUsualFormat() throws Exception {
    X509Certificate c = ca.certificate();
    String pem = Pem.toPem(c);
    assertTrue(pem.startsWith("-----BEGIN CERTIFICATE-----\n"));
    assertTrue(pem.endsWith("\n-----END CERTIFICATE-----\n"));
    String[] lines = pem.split("\n");
    for (int i = 1; i < lines.length - 2; i++) {
      assertEquals(64, lines[i].length(), "full lines are 64 characters");
    }
    assertTrue(lines[lines.length - 2].length() <= 64);
    assertEquals(c, Pem.readCertificate(pem, "test"));
    assertArrayEquals(c.getEncoded(), Base64.getMimeDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", "")));
  }

  @Test
  void privateKeysRoundTripAsPkcs8() throws Exception {
    PrivateKey ec = issuer.forHost("a.example").privateKey();
    for (PrivateKey key : List.of(ec, rsa.getPrivate())) {
      String pem = Pem.toPem(key);
      assertTrue(pem.startsWith("-----BEGIN PRIVATE KEY-----\n"), pem);
      PrivateKey back = Pem.readPrivateKey(pem, "test");
      assertEquals(key.getAlgorithm(), back.getAlgorithm());
      assertArrayEquals(key.getEncoded(), back.getEncoded());
    }
  }

  @Test
  void readsTraditionalOpenSslKeys() throws Exception {
    Leaf leaf = issuer.forHost("b.example");
    String sec1 = sec1(leaf);
    // what `openssl ecparam -genkey -name prime256v1` prints: the curve first, then the key
    String withParams = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + sec1;
    PrivateKey back = Pem.readPrivateKey(withParams, "test");
    assertEquals("EC", back.getAlgorithm());
    assertEquals(((java.security.interfaces.ECPrivateKey) leaf.privateKey()).getS(), ((java.security.interfaces.ECPrivateKey) back).getS());
    String pkcs1 = traditional(rsa.getPrivate());
    assertTrue(pkcs1.startsWith("-----BEGIN RSA PRIVATE KEY-----"), pkcs1);
    assertArrayEquals(rsa.getPrivate().getEncoded(), Pem.readPrivateKey(pkcs1, "test").getEncoded());
  }

  @Test
  void readsABundleWithTextBetweenTheBlocks() throws Exception {
    X509Certificate a = ca.certificate();
    X509Certificate b = issuer.forHost("b.example").certificate();
    X509Certificate c = issuer.forHost("c.example").certificate();
    String bundle = "# extra CAs\nsubject=whatever\n" + Pem.toPem(a) + "\n\n# second\n" + Pem.toPem(b) + Pem.toPem(c) + "trailing text\n";
    assertEquals(List.of(a, b, c), Pem.readCertificates(bundle, "bundle"));
    Path file = tmp.resolve("bundle.pem");
    Files.writeString(file, bundle);
    assertEquals(List.of(a, b, c), Pem.readCertificates(file));
    TlsSetupException e = assertThrows(TlsSetupException.class, () -> Pem.readCertificate(file));
    assertTrue(e.getMessage().contains(file + " holds 3 certificates where exactly one was expected"), e.getMessage());
  }

  @Test
  void malformedInputIsReportedWithItsSource() throws Exception {
    TlsSetupException e = assertThrows(TlsSetupException.class, () -> Pem.readCertificates("", "--ca-bundle"));
    assertTrue(e.getMessage().startsWith("--ca-bundle holds no PEM certificate"), e.getMessage());
    assertTrue(e.getMessage().contains("openssl x509 -inform der"), e.getMessage());

    e = assertThrows(TlsSetupException.class,
        () -> Pem.readCertificate("-----BEGIN CERTIFICATE-----\n!!!notbase64***\n-----END CERTIFICATE-----\n", "x.pem"));
    assertTrue(e.getMessage().startsWith("x.pem: "), e.getMessage());

    e = assertThrows(TlsSetupException.class,
        () -> Pem.readCertificate("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "y.pem"));
    assertTrue(e.getMessage().startsWith("y.pem"), e.getMessage());

    e = assertThrows(TlsSetupException.class,
        () -> Pem.readCertificate("-----BEGIN CERTIFICATE-----\nMIIB\n", "truncated.pem"));
    assertTrue(e.getMessage().startsWith("truncated.pem"), e.getMessage());

    String keyThenCert = Pem.toPem(rsa.getPrivate()) + Pem.toPem(ca.certificate());
    e = assertThrows(TlsSetupException.class, () -> Pem.readCertificates(keyThenCert, "bundle.pem"));
    assertTrue(e.getMessage().contains("block 1 is a private key, not a certificate"), e.getMessage());

    e = assertThrows(TlsSetupException.class, () -> Pem.readPrivateKey(Pem.toPem(ca.certificate()), "key.pem"));
    assertTrue(e.getMessage().contains("key.pem holds a certificate where a private key was expected"), e.getMessage());

    e = assertThrows(TlsSetupException.class, () -> Pem.readPrivateKey("just text", "key.pem"));
    assertTrue(e.getMessage().contains("openssl pkey -inform der"), e.getMessage());

    byte[] encrypted = new EncryptedPrivateKeyInfo(new AlgorithmIdentifier(PKCSObjectIdentifiers.id_PBES2), new byte[64]).getEncoded();
    String encryptedPem = "-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + Base64.getEncoder().encodeToString(encrypted)
        + "\n-----END ENCRYPTED PRIVATE KEY-----\n";
    e = assertThrows(TlsSetupException.class, () -> Pem.readPrivateKey(encryptedPem, "enc.pem"));
    assertTrue(e.getMessage().contains("encrypted private key") && e.getMessage().contains("openssl pkey"), e.getMessage());
  }

  @Test
  void filesAreWrittenWithTheRightPermissions() throws Exception {
    Path key = tmp.resolve("k.pem");
    Files.writeString(key, "old");
    Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r--r--"));
    Pem.writePrivateKey(key, rsa.getPrivate());
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(key)), "replaced by an owner-only file");
    assertArrayEquals(rsa.getPrivate().getEncoded(), Pem.readPrivateKey(key).getEncoded());
    Path crt = tmp.resolve("c.pem");
    Pem.writeCertificate(crt, ca.certificate());
    assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(crt)));
    assertEquals(ca.certificate(), Pem.readCertificate(crt));
    assertThrows(NoSuchFileException.class, () -> Pem.readCertificate(tmp.resolve("missing.pem")));
  }

  @Test
  void modesAreShownInOctal() {
    assertEquals("0644", OwnerOnlyFiles.mode(PosixFilePermissions.fromString("rw-r--r--")));
    assertEquals("0600", OwnerOnlyFiles.mode(PosixFilePermissions.fromString("rw-------")));
    assertEquals("0751", OwnerOnlyFiles.mode(PosixFilePermissions.fromString("rwxr-x--x")));
  }
}
