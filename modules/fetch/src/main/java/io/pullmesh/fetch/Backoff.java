package io.pullmesh.fetch;

import java.time.Duration;
import java.util.function.DoubleSupplier;

/**
 * Exponential backoff with jitter: try {@code n} (1-based) waits {@code base * 2^(n-1)}, capped at
 * {@code max}, scaled by a random factor in [0.5, 1.5) so that sixteen connections failing together do not
 * retry together.
 */
public final class Backoff {
  private final Duration base;
  private final Duration max;
  private final DoubleSupplier random;

  public Backoff(Duration base, Duration max, DoubleSupplier random) {
    this.base = base;
    this.max = max;
    this.random = random;
  }

  /** Delay before retry number {@code attempt} (1 for the first retry). */
  public Duration delay(int attempt) {
    if (attempt < 1) {
      throw new IllegalArgumentException("attempt must be >= 1, got " + attempt);
    }
    long baseMs = base.toMillis();
    long exp = attempt > 30 ? Long.MAX_VALUE : baseMs << (attempt - 1);
    if (exp < 0 || attempt > 30) {
      exp = Long.MAX_VALUE;
    }
    long capped = Math.min(exp, max.toMillis());
    double factor = 0.5 + random.getAsDouble();
    return Duration.ofMillis(Math.max(0, Math.round(capped * factor)));
  }
}
