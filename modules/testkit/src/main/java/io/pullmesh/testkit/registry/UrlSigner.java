package io.pullmesh.testkit.registry;

import io.pullmesh.core.Digest;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.HexFormat;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Issues and checks presigned blob URLs in the shape registry.ollama.ai hands out for its R2 bucket:
 * {@code /ollama/docker/registry/v2/blobs/sha256/<2 hex>/<hex>/data?X-Amz-Algorithm=...&X-Amz-Date=...
 * &X-Amz-Expires=...&X-Amz-SignedHeaders=host&X-Amz-Signature=<hex>}. The signature is an HMAC-SHA256 over
 * path, date and expiry with a secret; stands for S3 SigV4 query signing, which it resembles only in shape.
 *
 * <p>Time comes from an injected {@link Clock}. {@link #rotate()} retires the secret: URLs signed with a
 * retired secret are then reported as expired, which is how a test forces "presigned URL expired" without
 * moving a clock. Thread-safe.
 */
final class UrlSigner {
  /** How a presigned URL checked out. */
  enum Verdict {
    VALID,
    /** No or malformed X-Amz-* parameters. */
    MISSING,
    /** The signature matches no secret this signer ever had. */
    BAD_SIGNATURE,
    /** Signed correctly, but past its expiry or signed with a retired secret. */
    EXPIRED
  }

  static final String PATH_PREFIX = "/ollama/docker/registry/v2/blobs/sha256/";
  private static final DateTimeFormatter AMZ_DATE =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter AMZ_DAY = DateTimeFormatter.ofPattern("yyyyMMdd").withZone(ZoneOffset.UTC);

  private final Clock clock;
  private final long expiresSeconds;
  private final SecretRing keys = new SecretRing();

  UrlSigner(Clock clock, Duration validity) {
    if (validity.getSeconds() < 1) {
      throw new IllegalArgumentException("validity must be at least 1 s, got " + validity);
    }
    this.clock = clock;
    this.expiresSeconds = validity.getSeconds();
  }

  /** The CDN path of a blob. */
  static String path(Digest digest) {
    return PATH_PREFIX + digest.hex().substring(0, 2) + "/" + digest.hex() + "/data";
  }

  /** The blob a CDN path names, or null when the path has another shape. */
  static Digest digestOf(String path) {
    if (!path.startsWith(PATH_PREFIX) || !path.endsWith("/data")) {
      return null;
    }
    String middle = path.substring(PATH_PREFIX.length(), path.length() - "/data".length());
    int slash = middle.indexOf('/');
    if (slash != 2) {
      return null;
    }
    String hex = middle.substring(3);
    if (!Digest.isValid("sha256:" + hex) || !hex.startsWith(middle.substring(0, 2))) {
      return null;
    }
    return Digest.ofHex(hex);
  }

  /** Path and query of a freshly signed URL for {@code digest}. */
  synchronized String signedPathAndQuery(Digest digest) {
    String path = path(digest);
    Instant now = clock.instant();
    String date = AMZ_DATE.format(now);
    String expires = Long.toString(expiresSeconds);
    return path + "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        + "&X-Amz-Credential=fakeaccesskey%2F" + AMZ_DAY.format(now) + "%2Fauto%2Fs3%2Faws4_request"
        + "&X-Amz-Date=" + date
        + "&X-Amz-Expires=" + expires
        + "&X-Amz-SignedHeaders=host"
        + "&X-Amz-Signature=" + hmac(keys.current(), path, date, expires);
  }

  /** Checks a request's path and query parameters (already decoded). */
  synchronized Verdict verify(String path, Map<String, String> params) {
    String algorithm = params.get("X-Amz-Algorithm");
    String date = params.get("X-Amz-Date");
    String expires = params.get("X-Amz-Expires");
    String signature = params.get("X-Amz-Signature");
    if (!"AWS4-HMAC-SHA256".equals(algorithm) || date == null || expires == null || signature == null) {
      return Verdict.MISSING;
    }
    Instant signedAt;
    long validFor;
    try {
      signedAt = Instant.from(AMZ_DATE.parse(date));
      validFor = Long.parseLong(expires);
    } catch (DateTimeParseException | NumberFormatException e) {
      return Verdict.MISSING;
    }
    SecretRing.Match m = keys.match(k -> matches(k, signature, path, date, expires));
    if (m == SecretRing.Match.CURRENT) {
      Instant now = clock.instant();
      return now.isAfter(signedAt.plusSeconds(validFor)) || now.isBefore(signedAt.minusSeconds(900))
          ? Verdict.EXPIRED
          : Verdict.VALID;
    }
    return m == SecretRing.Match.RETIRED ? Verdict.EXPIRED : Verdict.BAD_SIGNATURE;
  }

  /** Retires the current secret: every URL issued so far verifies as {@link Verdict#EXPIRED}. */
  synchronized void rotate() {
    keys.rotate();
  }


  private static boolean matches(byte[] key, String signature, String path, String date, String expires) {
    return MessageDigest.isEqual(hmac(key, path, date, expires).getBytes(StandardCharsets.US_ASCII),
        signature.getBytes(StandardCharsets.US_ASCII));
  }

  private static String hmac(byte[] key, String path, String date, String expires) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      byte[] sig = mac.doFinal((path + "\n" + date + "\n" + expires).getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(sig);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("the JDK always has HmacSHA256", e);
    }
  }
}
