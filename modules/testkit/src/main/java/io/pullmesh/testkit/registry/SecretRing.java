package io.pullmesh.testkit.registry;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * The HMAC keys of one of the fake's signers (the CDN's presigned URLs, the hub's {@code __sign} tokens): the current
 * key, and the keys it retired. What a retired key signed checks as expired, which is how a test makes every URL or token
 * issued so far expire at once. Thread-safe.
 */
final class SecretRing {
  /** Which key signed something. */
  enum Match {
    CURRENT, RETIRED, NONE
  }

  private final SecureRandom random = new SecureRandom();
  private byte[] current = newKey();
  private final List<byte[]> retired = new ArrayList<>();

  synchronized byte[] current() {
    return current;
  }

  /** Retires the current key and makes a new one. */
  synchronized void rotate() {
    retired.add(current);
    current = newKey();
  }

  /** The key, if any, for which {@code signedBy} holds: the current one first. */
  synchronized Match match(Predicate<byte[]> signedBy) {
    if (signedBy.test(current)) {
      return Match.CURRENT;
    }
    return retired.stream().anyMatch(signedBy) ? Match.RETIRED : Match.NONE;
  }

  private byte[] newKey() {
    byte[] s = new byte[32];
    random.nextBytes(s);
    return s;
  }
}
