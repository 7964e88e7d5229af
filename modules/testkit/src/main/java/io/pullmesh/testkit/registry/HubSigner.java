package io.pullmesh.testkit.registry;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Issues and checks the {@code __sign} token Hugging Face appends to the blob URL its registry redirects to
 * ({@code https://huggingface.co/v2/<user>/<repo>/blobs/sha256:<d>?__sign=<JWT>}, ollama/ollama #8360, #11654).
 * Decoded, the real token is a JWT with header {@code {"alg":"EdDSA"}} and payload
 * {@code {"read":true,"permissions":{"repo.content.read":true},"iat":...,"sub":"/<user>/<repo>","exp":...,
 * "iss":"https://huggingface.co"}} with {@code exp - iat = 600} (both issues). This one has the same payload, the
 * repository spelled as written (capitals kept), but is signed with HMAC-SHA256 ({@code {"alg":"HS256"}}) over a
 * random secret: it stands for the real token in shape only.
 *
 * <p>Time comes from the injected {@link Clock}; {@link #rotate()} retires the secret so that every token issued
 * so far checks as {@link UrlSigner.Verdict#EXPIRED}. Thread-safe.
 */
final class HubSigner {
  private static final String HEADER = b64("{\"alg\":\"HS256\"}".getBytes(StandardCharsets.UTF_8));

  private final Clock clock;
  private final long validitySeconds;
  private final SecretRing keys = new SecretRing();

  HubSigner(Clock clock, Duration validity) {
    if (validity.getSeconds() < 1) {
      throw new IllegalArgumentException("sign validity must be at least 1 s, got " + validity);
    }
    this.clock = clock;
    this.validitySeconds = validity.getSeconds();
  }

  /** A fresh token that opens the blobs of {@code repository} (spelled as in the URL) until it expires. */
  synchronized String issue(String repository, String issuer) {
    long now = clock.instant().getEpochSecond();
    JsonObject payload = new JsonObject()
        .put("read", true)
        .put("permissions", new JsonObject().put("repo.content.read", true))
        .put("iat", now)
        .put("sub", "/" + repository)
        .put("exp", now + validitySeconds)
        .put("iss", issuer);
    String unsigned = HEADER + "." + b64(payload.encode().getBytes(StandardCharsets.UTF_8));
    return unsigned + "." + b64(hmac(keys.current(), unsigned));
  }

  /**
   * Checks a token for a request on {@code repository} (spelled as in the URL): {@code MISSING} when absent or not
   * a JWT, {@code BAD_SIGNATURE} when signed by no secret of this signer or issued for another repository (the
   * comparison is exact: capitals count), {@code EXPIRED} when past {@code exp} or signed with a retired secret.
   */
  synchronized UrlSigner.Verdict verify(String token, String repository) {
    String[] parts = token == null ? new String[0] : token.split("\\.", -1);
    if (parts.length != 3) {
      return UrlSigner.Verdict.MISSING;
    }
    byte[] signature;
    JsonObject payload;
    try {
      signature = Base64.getUrlDecoder().decode(parts[2]);
      payload = new JsonObject(new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8));
    } catch (IllegalArgumentException | DecodeException e) {
      return UrlSigner.Verdict.MISSING;
    }
    String unsigned = parts[0] + "." + parts[1];
    SecretRing.Match m = keys.match(k -> MessageDigest.isEqual(hmac(k, unsigned), signature));
    if (m != SecretRing.Match.CURRENT) {
      return m == SecretRing.Match.RETIRED ? UrlSigner.Verdict.EXPIRED : UrlSigner.Verdict.BAD_SIGNATURE;
    }
    if (!("/" + repository).equals(payload.getValue("sub"))) {
      return UrlSigner.Verdict.BAD_SIGNATURE;
    }
    Object exp = payload.getValue("exp");
    if (!(exp instanceof Number n) || clock.instant().getEpochSecond() >= n.longValue()) {
      return UrlSigner.Verdict.EXPIRED;
    }
    return UrlSigner.Verdict.VALID;
  }

  /** Retires the current secret: every token issued so far verifies as expired; new ones are valid. */
  synchronized void rotate() {
    keys.rotate();
  }


  private static String b64(byte[] bytes) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  private static byte[] hmac(byte[] key, String data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(data.getBytes(StandardCharsets.US_ASCII));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("the JDK always has HmacSHA256", e);
    }
  }
}
