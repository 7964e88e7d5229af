package io.pullmesh.tls;

import java.security.KeyPair;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;

/**
 * Mints leaf certificates for intercepted hosts, signed by a {@link CertificateAuthority}, and caches them.
 *
 * <p>A leaf for {@code host} has: the host as its only subjectAltName (a dNSName in lower case, which may be a
 * wildcard such as {@code *.r2.cloudflarestorage.com}, or an iPAddress for IP literals such as {@code 127.0.0.1}
 * or {@code ::1}); subject {@code CN=<host>, O=pullmesh} (just {@code O=pullmesh} when the host is longer than the
 * 64 characters a CN may hold; clients match the SAN, not the CN); critical BasicConstraints CA:FALSE; critical
 * KeyUsage digitalSignature (its key is ECDSA P-256); ExtendedKeyUsage serverAuth; the CA's key identifier as
 * AuthorityKeyIdentifier and its own SubjectKeyIdentifier; a random positive 128-bit serial; validity from an
 * hour before minting for {@code validity} (7 days by default), never outside the CA's own validity.
 *
 * <p>Leaves are cached per normalized host (least recently used evicted beyond {@code maxEntries}) and reissued
 * when less than {@code refreshBefore} (1 day by default) of validity is left by the injected clock, or when the
 * CA was rotated. Thread-safe: concurrent requests for the same host wait for one mint. Minting (an EC key pair
 * and a signature) takes about 2 ms with an ECDSA CA and 4 ms with an RSA 3072 one on a small machine; a cached
 * leaf is returned in microseconds. So calling {@link #forHost} from inside a handshake, even on an event loop,
 * costs a few milliseconds once per host and week.
 */
public final class LeafIssuer {
  /** Default leaf validity. */
  public static final Duration DEFAULT_VALIDITY = Duration.ofDays(7);
  /** Default remaining validity below which a cached leaf is reissued. */
  public static final Duration DEFAULT_REFRESH_BEFORE = Duration.ofDays(1);
  /** Default number of hosts whose leaves are cached. */
  public static final int DEFAULT_MAX_ENTRIES = 1000;
  /** How far before minting a leaf's validity starts, for clients whose clocks lag. */
  public static final Duration BACKDATE = Duration.ofHours(1);

  private static final int MAX_CN = 64;
  private static final String LEAF_KEY_TYPE = "EC";

  private final CertificateAuthority ca;
  private final Clock clock;
  private final Duration validity;
  private final Duration refreshBefore;
  private final SecureRandom random = new SecureRandom();
  private final AtomicLong minted = new AtomicLong();
  private final Map<String, CompletableFuture<Entry>> cache;

  /** A cached leaf, the CA generation that signed it and when to replace it. */
  private record Entry(Leaf leaf, CaSnapshot issuer, Instant notBefore, Instant refreshAt) {}

  /** An issuer with the default validity (7 days), refresh margin (1 day) and cache size (1000 hosts). */
  public LeafIssuer(CertificateAuthority ca, Clock clock) {
    this(ca, clock, DEFAULT_VALIDITY, DEFAULT_REFRESH_BEFORE, DEFAULT_MAX_ENTRIES);
  }

  /**
   * @param validity how long a leaf is valid after it is minted (plus the hour it is backdated)
   * @param refreshBefore reissue a cached leaf when less than this is left; shorter than {@code validity}
   * @param maxEntries how many hosts' leaves to keep
   */
  public LeafIssuer(CertificateAuthority ca, Clock clock, Duration validity, Duration refreshBefore, int maxEntries) {
    this.ca = Objects.requireNonNull(ca, "ca");
    this.clock = Objects.requireNonNull(clock, "clock");
    if (validity.compareTo(Duration.ofMinutes(1)) < 0) {
      throw new IllegalArgumentException("leaf validity " + validity + " is too short: use at least a minute");
    }
    if (refreshBefore.isNegative() || refreshBefore.compareTo(validity) >= 0) {
      throw new IllegalArgumentException("leaf refresh margin " + refreshBefore + " must be at least 0 and shorter than the validity " + validity);
    }
    if (maxEntries < 1) {
      throw new IllegalArgumentException("leaf cache size " + maxEntries + " must be at least 1");
    }
    this.validity = validity;
    this.refreshBefore = refreshBefore;
    this.cache = new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, CompletableFuture<Entry>> eldest) {
        return size() > maxEntries;
      }
    };
  }

  /**
   * The leaf for {@code host}, from the cache or freshly minted.
   *
   * @param host a DNS name (any case, trailing dot allowed, {@code *.} wildcard allowed) or an IP literal
   *     ({@code [::1]} brackets allowed)
   * @throws IllegalArgumentException when {@code host} is neither a host name nor an IP address
   * @throws TlsSetupException when the CA has expired or is not valid yet
   */
  public Leaf forHost(String host) {
    HostName name = HostName.parse(host);
    CompletableFuture<Entry> mine = null;
    CompletableFuture<Entry> found;
    synchronized (cache) {
      found = cache.get(name.value());
      if (found == null || (found.isDone() && stale(found))) {
        mine = new CompletableFuture<>();
        cache.put(name.value(), mine);
        found = mine;
      }
    }
    if (mine != null) {
      try {
        mine.complete(mint(name));
      } catch (RuntimeException e) {
        synchronized (cache) {
          cache.remove(name.value(), mine);
        }
        mine.completeExceptionally(e);
        throw e;
      }
    }
    try {
      return found.join().leaf();
    } catch (CompletionException e) {
      // another thread's mint for this host failed; report it as our own
      if (e.getCause() instanceof RuntimeException) {
        throw (RuntimeException) e.getCause();
      }
      throw e;
    }
  }

  /** How many hosts have a leaf (or one being minted) in the cache. */
  public int cachedHosts() {
    synchronized (cache) {
      return cache.size();
    }
  }

  /** How many leaves this issuer has minted since it was made. */
  public long mintedCount() {
    return minted.get();
  }

  /** Forgets every cached leaf; the next request for each host mints a new one. */
  public void clear() {
    synchronized (cache) {
      cache.clear();
    }
  }

  /** The JCA key type of every leaf's key ({@code EC}), as a key manager is asked for it. */
  public String leafKeyType() {
    return LEAF_KEY_TYPE;
  }

  private boolean stale(CompletableFuture<Entry> f) {
    if (f.isCompletedExceptionally()) {
      return true;
    }
    Entry e = f.join();
    Instant now = clock.instant();
    return e.issuer() != ca.snapshot() || !now.isBefore(e.refreshAt()) || now.isBefore(e.notBefore());
  }

  private Entry mint(HostName host) {
    CaSnapshot issuer = ca.snapshot();
    Instant now = clock.instant();
    if (!now.isBefore(issuer.notAfter())) {
      throw new TlsSetupException("the pullmesh CA (" + ca.certificateFile() + ", fingerprint " + issuer.fingerprint()
          + ") expired at " + issuer.notAfter() + ": rotate it and have clients trust the new " + CertificateAuthority.CERT_FILE);
    }
    if (now.isBefore(issuer.notBefore())) {
      throw new TlsSetupException("the pullmesh CA (" + ca.certificateFile() + ") is not valid until "
          + issuer.notBefore() + " and it is " + now + " now: check this machine's clock");
    }
    Instant notBefore = max(now.minus(BACKDATE), issuer.notBefore()).truncatedTo(ChronoUnit.SECONDS);
    Instant wanted = now.plus(validity).truncatedTo(ChronoUnit.SECONDS);
    boolean capped = wanted.isAfter(issuer.notAfter());
    Instant notAfter = capped ? issuer.notAfter() : wanted;
    // a leaf cut short by the CA's expiry cannot be improved by reissuing before then
    Instant refreshAt = capped ? notAfter : notAfter.minus(refreshBefore);

    KeyPair kp = KeyAlgorithm.ECDSA_P256.generate(random);
    X500NameBuilder subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.O, "pullmesh");
    if (host.value().length() <= MAX_CN) {
      subject.addRDN(BCStyle.CN, host.value());
    }
    X500Name subjectName = subject.build();
    GeneralName san = host.isIp()
        ? new GeneralName(GeneralName.iPAddress, new DEROctetString(host.ipAddress()))
        : new GeneralName(GeneralName.dNSName, host.value());
    X509v3CertificateBuilder b = new X509v3CertificateBuilder(
        issuer.subject(),
        Certs.serial(random),
        Certs.date(notBefore),
        Certs.date(notAfter),
        subjectName,
        Certs.publicKeyInfo(kp.getPublic()));
    try {
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
      b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
      b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(san));
      b.addExtension(Extension.subjectKeyIdentifier, false, new SubjectKeyIdentifier(Certs.keyIdentifier(kp.getPublic())));
      if (issuer.keyIdentifier() != null) {
        b.addExtension(Extension.authorityKeyIdentifier, false, new AuthorityKeyIdentifier(issuer.keyIdentifier()));
      }
    } catch (CertIOException e) {
      throw new IllegalStateException("cannot encode leaf extensions for " + host.value(), e);
    }
    Leaf leaf = new Leaf(
        host.value(),
        kp.getPrivate(),
        Certs.toX509(b.build(Certs.signer(issuer.signatureAlgorithm(), issuer.key()))),
        issuer.certificate());
    minted.incrementAndGet();
    return new Entry(leaf, issuer, notBefore, refreshAt);
  }

  private static Instant max(Instant a, Instant b) {
    return a.isAfter(b) ? a : b;
  }
}
