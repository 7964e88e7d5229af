package io.pullmesh.testkit.registry;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The registry's token service: checks optional Basic credentials on {@code /token}, issues opaque bearer
 * tokens valid for {@link #LIFETIME} by the injected clock, and checks them on registry requests. Stands for
 * the auth endpoint of a private registry (registry.ollama.ai itself lets public models pull anonymously).
 * Thread-safe.
 */
final class TokenAuthority {
  static final Duration LIFETIME = Duration.ofSeconds(300);
  static final String SERVICE = "fake-registry";

  private final Clock clock;
  private final String username;
  private final String password;
  private final SecureRandom random = new SecureRandom();
  private final Map<String, Instant> tokens = new ConcurrentHashMap<>();

  /** @param username null when {@code /token} needs no credentials */
  TokenAuthority(Clock clock, String username, String password) {
    this.clock = clock;
    this.username = username;
    this.password = password;
  }

  boolean requiresCredentials() {
    return username != null;
  }

  /** Whether a {@code /token} request's {@code Authorization} header carries the configured Basic credentials. */
  boolean credentialsAccepted(String authorization) {
    if (username == null) {
      return true;
    }
    if (authorization == null || !authorization.regionMatches(true, 0, "Basic ", 0, 6)) {
      return false;
    }
    String expected = Base64.getEncoder()
        .encodeToString((username + ":" + password).getBytes(StandardCharsets.UTF_8));
    return authorization.substring(6).strip().equals(expected);
  }

  String issue() {
    byte[] b = new byte[24];
    random.nextBytes(b);
    String token = "fake." + HexFormat.of().formatHex(b);
    tokens.put(token, clock.instant().plus(LIFETIME));
    return token;
  }

  /** Whether an {@code Authorization} header carries a token this authority issued that has not expired. */
  boolean bearerAccepted(String authorization) {
    if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return false;
    }
    Instant expiry = tokens.get(authorization.substring(7).strip());
    return expiry != null && !clock.instant().isAfter(expiry);
  }

  /** Forgets every token issued so far: the next request needs a new one. */
  void revokeAll() {
    tokens.clear();
  }

  static String tokenJson(String token, Instant issuedAt) {
    return "{\"token\":\"" + token + "\",\"access_token\":\"" + token + "\",\"expires_in\":" + LIFETIME.getSeconds()
        + ",\"issued_at\":\"" + issuedAt + "\"}";
  }
}
