package io.pullmesh.tls;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.Objects;
import java.util.Set;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v3CertificateBuilder;

/**
 * pullmesh's own certificate authority, kept in a directory as {@code ca.crt} (PEM certificate, mode 0644) and
 * {@code ca.key} (unencrypted PKCS#8 PEM private key, mode 0600 from the moment it is created).
 *
 * <p>{@link #loadOrCreate} makes a new CA the first time and reuses it afterwards, so clients keep trusting it
 * across restarts. It refuses a key file that group or others can access, a certificate that does not belong to
 * the key, a certificate that is not a CA, and a directory holding only one of the two files. A CA found on disk
 * is reused whatever its key algorithm; the algorithm given applies to CAs made from now on.
 *
 * <p>The certificate: subject {@code CN=pullmesh CA (<node>), OU=created <time>, O=pullmesh} (the creation time
 * keeps successive CAs apart in trust stores), valid for about ten years from an hour before creation (for clocks
 * that lag), random positive 128-bit serial, critical BasicConstraints CA:TRUE with pathLen 0, critical KeyUsage
 * keyCertSign and cRLSign, and a SubjectKeyIdentifier. Self-signed with SHA256withECDSA or SHA256withRSA.
 *
 * <p>{@link #rotate} replaces the CA with a new one, keeping the previous files as {@code ca.crt.<time>} and
 * {@code ca.key.<time>}. The accessors always describe the current CA; a {@link LeafIssuer} notices a rotation
 * and reissues its leaves. Another process that loaded the CA before a rotation keeps using the old one until it
 * loads again. Creation and rotation hold {@code ca.lock} in the directory, so concurrent processes cannot mix
 * their files. Thread-safe; file operations block.
 */
public final class CertificateAuthority {
  /** The certificate's file name in the CA directory. */
  public static final String CERT_FILE = "ca.crt";
  /** The private key's file name in the CA directory. */
  public static final String KEY_FILE = "ca.key";
  /** How long a new CA is valid, counted from its creation: ten years and a few days for leap years. */
  public static final Duration VALIDITY = Duration.ofDays(3653);
  /** How far before its creation a new CA's validity starts, for clients whose clocks lag. */
  public static final Duration BACKDATE = Duration.ofHours(1);
  /** The lock file that keeps processes from creating or rotating the CA at the same time. */
  public static final String LOCK_FILE = "ca.lock";

  static final int MAX_NODE_NAME = 50; // keeps the CN within X.520's 64 characters
  private static final Object JVM_LOCK = new Object();
  private static final DateTimeFormatter STAMP =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

  /**
   * What a rotation did.
   *
   * @param previousCertificate where the replaced certificate was kept
   * @param previousKey where the replaced key was kept (mode 0600)
   */
  public record Rotation(String previousFingerprint, String newFingerprint, Path previousCertificate, Path previousKey) {}

  private final Path dir;
  private final String nodeName;
  private final KeyAlgorithm algorithm;
  private final Clock clock;
  private final SecureRandom random = new SecureRandom();
  private final boolean createdNow;
  private volatile CaSnapshot current;

  private CertificateAuthority(Path dir, String nodeName, KeyAlgorithm algorithm, Clock clock, boolean createdNow) {
    this.dir = dir;
    this.nodeName = nodeName;
    this.algorithm = algorithm;
    this.clock = clock;
    this.createdNow = createdNow;
  }

  /** {@link #loadOrCreate(Path, String, KeyAlgorithm, Clock)} with the default {@link KeyAlgorithm#ECDSA_P256}. */
  public static CertificateAuthority loadOrCreate(Path dir, String nodeName, Clock clock) throws IOException {
    return loadOrCreate(dir, nodeName, KeyAlgorithm.defaultAlgorithm(), clock);
  }

  /**
   * Loads the CA in {@code dir}, or creates one there (and {@code dir}, as 0700, if missing) when it holds
   * neither {@code ca.crt} nor {@code ca.key}.
   *
   * @param nodeName this node's name, shown in the CA's subject (longer than 50 characters is cut)
   * @param algorithm the key algorithm of a CA created now or by a later {@link #rotate}
   * @throws TlsSetupException when the files found cannot be used, saying what to fix
   * @throws IOException when the files cannot be read or written
   */
  public static CertificateAuthority loadOrCreate(Path dir, String nodeName, KeyAlgorithm algorithm, Clock clock)
      throws IOException {
    Objects.requireNonNull(dir, "dir");
    Objects.requireNonNull(algorithm, "algorithm");
    Objects.requireNonNull(clock, "clock");
    String node = checkNodeName(nodeName);
    OwnerOnlyFiles.createDirectories(dir);
    return locked(dir, () -> loadOrCreateLocked(dir, node, algorithm, clock));
  }

  private static CertificateAuthority loadOrCreateLocked(Path dir, String node, KeyAlgorithm algorithm, Clock clock)
      throws IOException {
    Path crt = dir.resolve(CERT_FILE);
    Path key = dir.resolve(KEY_FILE);
    boolean hasCrt = Files.exists(crt);
    boolean hasKey = Files.exists(key);
    if (!hasCrt && !hasKey) {
      CertificateAuthority ca = new CertificateAuthority(dir, node, algorithm, clock, true);
      CaSnapshot s = ca.generate();
      // key first: a crash between the two writes leaves a key without a certificate, which is refused with advice
      Pem.writePrivateKey(key, s.key());
      OwnerOnlyFiles.writeAtomically(crt, s.pem().getBytes(StandardCharsets.US_ASCII), false);
      ca.current = s;
      return ca;
    }
    if (!hasCrt) {
      throw new TlsSetupException(dir + " holds " + KEY_FILE + " but no " + CERT_FILE + ": restore " + CERT_FILE
          + ", or delete " + key + " to make a new CA (clients must then trust the new " + CERT_FILE + ")");
    }
    if (!hasKey) {
      throw new TlsSetupException(dir + " holds " + CERT_FILE + " but no " + KEY_FILE + ": restore " + KEY_FILE
          + ", or delete " + crt + " to make a new CA (clients must then trust the new " + CERT_FILE + ")");
    }
    String remake = "delete " + KEY_FILE + " and " + CERT_FILE + " in " + dir + " to make a new CA";
    OwnerOnlyFiles.requireOwnerOnly(key, remake);
    PrivateKey privateKey = Pem.readPrivateKey(key);
    X509Certificate cert = Pem.readCertificate(crt);
    String sigAlg = KeyAlgorithm.signatureAlgorithmFor(privateKey, key.toString());
    if (cert.getBasicConstraints() < 0) {
      throw new TlsSetupException(crt + " is not a CA certificate (no BasicConstraints CA:TRUE): " + remake);
    }
    boolean[] usage = cert.getKeyUsage();
    if (usage != null && !usage[5]) {
      throw new TlsSetupException(crt + " may not sign certificates (its KeyUsage lacks keyCertSign): " + remake);
    }
    if (!belongTogether(privateKey, cert.getPublicKey(), sigAlg)) {
      throw new TlsSetupException(crt + " does not match the key " + key + " (its public key is not that key's): "
          + "restore the pair that belongs together (a rotation keeps earlier ones as " + CERT_FILE + ".<time> and "
          + KEY_FILE + ".<time>), or " + remake + " (clients must then trust the new " + CERT_FILE + ")");
    }
    CertificateAuthority ca = new CertificateAuthority(dir, node, algorithm, clock, false);
    ca.current = snapshot(cert, privateKey, sigAlg);
    return ca;
  }

  /**
   * Replaces this CA with a new one made with the configured algorithm. The previous certificate and key are
   * first copied to {@code ca.crt.<time>} and {@code ca.key.<time>} (UTC, e.g. {@code 20250102T030405Z}; a
   * {@code -2}, {@code -3}... suffix if taken; the key copy is 0600), then the new files replace the old ones.
   * Clients must be given the new {@code ca.crt}.
   */
  public synchronized Rotation rotate() throws IOException {
    return locked(dir, this::rotateLocked);
  }

  private Rotation rotateLocked() throws IOException {
    CaSnapshot old = current;
    Path crt = dir.resolve(CERT_FILE);
    Path key = dir.resolve(KEY_FILE);
    String stamp = STAMP.format(clock.instant());
    Path oldCrt;
    Path oldKey;
    for (int i = 1; ; i++) {
      String suffix = i == 1 ? stamp : stamp + "-" + i;
      oldCrt = dir.resolve(CERT_FILE + "." + suffix);
      oldKey = dir.resolve(KEY_FILE + "." + suffix);
      if (!Files.exists(oldCrt) && !Files.exists(oldKey)) {
        break;
      }
    }
    CaSnapshot next = generate();
    // keep what is on disk (another process may have written it); what this instance loaded if it is gone
    byte[] keyBytes = Files.exists(key) ? Files.readAllBytes(key) : Pem.toPem(old.key()).getBytes(StandardCharsets.US_ASCII);
    byte[] crtBytes = Files.exists(crt) ? Files.readAllBytes(crt) : old.pem().getBytes(StandardCharsets.US_ASCII);
    OwnerOnlyFiles.createNew(oldKey, keyBytes, true);
    OwnerOnlyFiles.createNew(oldCrt, crtBytes, false);
    Pem.writePrivateKey(key, next.key());
    OwnerOnlyFiles.writeAtomically(crt, next.pem().getBytes(StandardCharsets.US_ASCII), false);
    current = next;
    return new Rotation(old.fingerprint(), next.fingerprint(), oldCrt, oldKey);
  }

  /** The current CA certificate. */
  public X509Certificate certificate() {
    return current.certificate();
  }

  /** The current CA certificate as PEM text, as served at {@code GET /ca.crt} and printed by the CLI. */
  public String certificatePem() {
    return current.pem();
  }

  /** SHA-256 of the current certificate, colon-separated upper-case hex, as {@code openssl x509 -fingerprint -sha256} shows it. */
  public String fingerprintSha256() {
    return current.fingerprint();
  }

  /** When the current CA certificate starts being valid. */
  public Instant notBefore() {
    return current.notBefore();
  }

  /** When the current CA certificate expires; leaves are never valid beyond it. */
  public Instant notAfter() {
    return current.notAfter();
  }

  /** Whether {@link #loadOrCreate} made this CA (rather than loading one): a new CA must be installed in clients. */
  public boolean createdNow() {
    return createdNow;
  }

  /** The directory holding {@code ca.crt} and {@code ca.key}. */
  public Path directory() {
    return dir;
  }

  /** The path of {@code ca.crt}. */
  public Path certificateFile() {
    return dir.resolve(CERT_FILE);
  }

  /** The path of {@code ca.key}. */
  public Path keyFile() {
    return dir.resolve(KEY_FILE);
  }

  CaSnapshot snapshot() {
    return current;
  }

  private interface IoAction<T> {
    T run() throws IOException;
  }

  /**
   * Runs {@code action} holding {@code dir/ca.lock}: two processes starting together (or a rotation from the
   * command line while a server starts) must not interleave their writes into a key and certificate that do not
   * belong together. File locks are per process, so threads of this one also take a JVM-wide monitor.
   */
  private static <T> T locked(Path dir, IoAction<T> action) throws IOException {
    synchronized (JVM_LOCK) {
      Path lockFile = dir.resolve(LOCK_FILE);
      FileAttribute<?>[] attrs = OwnerOnlyFiles.posix(dir)
          ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(OwnerOnlyFiles.OWNER_ONLY)}
          : new FileAttribute<?>[0];
      try (FileChannel ch = FileChannel.open(lockFile, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE), attrs)) {
        FileLock lock = ch.lock();
        try {
          return action.run();
        } finally {
          lock.release();
        }
      }
    }
  }

  private CaSnapshot generate() {
    Instant now = clock.instant().truncatedTo(ChronoUnit.SECONDS);
    KeyPair kp = algorithm.generate(random);
    X500Name subject = new X500NameBuilder(BCStyle.INSTANCE)
        .addRDN(BCStyle.O, "pullmesh")
        .addRDN(BCStyle.OU, "created " + DateTimeFormatter.ISO_INSTANT.format(now))
        .addRDN(BCStyle.CN, "pullmesh CA (" + nodeName + ")")
        .build();
    X509v3CertificateBuilder b = new X509v3CertificateBuilder(
        subject,
        Certs.serial(random),
        Certs.date(now.minus(BACKDATE)),
        Certs.date(now.plus(VALIDITY)),
        subject,
        Certs.publicKeyInfo(kp.getPublic()));
    try {
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      b.addExtension(Extension.subjectKeyIdentifier, false, new SubjectKeyIdentifier(Certs.keyIdentifier(kp.getPublic())));
    } catch (CertIOException e) {
      throw new IllegalStateException("cannot encode CA extensions", e);
    }
    X509CertificateHolder holder = b.build(Certs.signer(algorithm.signatureAlgorithm(), kp.getPrivate()));
    return snapshot(Certs.toX509(holder), kp.getPrivate(), algorithm.signatureAlgorithm());
  }

  private static CaSnapshot snapshot(X509Certificate cert, PrivateKey key, String sigAlg) {
    X509CertificateHolder holder;
    try {
      holder = new X509CertificateHolder(cert.getEncoded());
    } catch (IOException | CertificateEncodingException e) {
      throw new IllegalStateException("cannot re-read the CA certificate", e);
    }
    SubjectKeyIdentifier ski = SubjectKeyIdentifier.fromExtensions(holder.getExtensions());
    return new CaSnapshot(
        cert,
        key,
        holder.getSubject(),
        ski == null ? null : ski.getKeyIdentifier(),
        sigAlg,
        cert.getNotBefore().toInstant(),
        cert.getNotAfter().toInstant(),
        Pem.toPem(cert),
        Certs.fingerprint(cert));
  }

  /** Signs a random challenge with the private key and checks it with the certificate's public key. */
  private static boolean belongTogether(PrivateKey key, PublicKey pub, String sigAlg) {
    if (!key.getAlgorithm().equals(pub.getAlgorithm())) {
      return false;
    }
    try {
      byte[] challenge = new byte[32];
      new SecureRandom().nextBytes(challenge);
      Signature s = Signature.getInstance(sigAlg);
      s.initSign(key);
      s.update(challenge);
      byte[] sig = s.sign();
      Signature v = Signature.getInstance(sigAlg);
      v.initVerify(pub);
      v.update(challenge);
      return v.verify(sig);
    } catch (GeneralSecurityException e) {
      return false; // e.g. keys on different curves
    }
  }

  private static String checkNodeName(String nodeName) {
    if (nodeName == null || nodeName.isBlank()) {
      throw new IllegalArgumentException("node name is empty: give this node a name (it appears in the CA's subject)");
    }
    String n = nodeName.strip();
    if (n.chars().anyMatch(Character::isISOControl)) {
      throw new IllegalArgumentException("node name '" + n + "' contains control characters");
    }
    if (n.codePointCount(0, n.length()) > MAX_NODE_NAME) {
      n = n.substring(0, n.offsetByCodePoints(0, MAX_NODE_NAME));
    }
    return n;
  }
}
