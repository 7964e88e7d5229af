package io.pullmesh.testkit.throttle;

/**
 * A token bucket of bytes: tokens accrue at {@code rate} bytes per second up to {@code capacity}, and a write of
 * n bytes needs n tokens. Stands for the bandwidth of one TCP connection to a CDN edge.
 *
 * <p>Callers ask for a chunk with {@link #tryTake}; when it fails, {@link #nanosUntil} says how long to wait
 * before asking again. A rate of 0 means unlimited. The rate may change while the bucket is in use (a test
 * re-throttling a running server); tokens already earned are kept, capped at the new capacity.
 *
 * <p>Not thread-safe: each connection's bucket is used from that connection's event loop only.
 */
public final class TokenBucket {
  private static final long NANOS_PER_SECOND = 1_000_000_000L;

  private final Ticker ticker;
  private long rate;
  private long capacity;
  private double tokens;
  private long lastRefill;

  /**
   * @param rate bytes per second, 0 for unlimited
   * @param capacity the largest burst, in bytes (at least 1); the bucket starts full
   */
  public TokenBucket(long rate, long capacity, Ticker ticker) {
    if (rate < 0 || capacity < 1) {
      throw new IllegalArgumentException("rate must be >= 0 and capacity >= 1, got " + rate + ", " + capacity);
    }
    this.ticker = ticker;
    this.rate = rate;
    this.capacity = capacity;
    this.tokens = capacity;
    this.lastRefill = ticker.nanos();
  }

  /** A capacity that keeps the number of writes per second near 50 for a given rate: rate/50 within [16 KiB, 256 KiB]. */
  public static long defaultCapacity(long rate) {
    return Math.max(16 * 1024, Math.min(256 * 1024, rate / 50));
  }

  public long rate() {
    return rate;
  }

  public long capacity() {
    return capacity;
  }

  public boolean unlimited() {
    return rate == 0;
  }

  /** Changes rate and capacity, keeping the tokens earned so far (capped at the new capacity). */
  public void reconfigure(long newRate, long newCapacity) {
    if (newRate < 0 || newCapacity < 1) {
      throw new IllegalArgumentException("rate must be >= 0 and capacity >= 1, got " + newRate + ", " + newCapacity);
    }
    refill();
    rate = newRate;
    capacity = newCapacity;
    tokens = Math.min(tokens, capacity);
  }

  /**
   * Takes {@code n} tokens if they are all available now.
   *
   * @param n bytes wanted, {@code 1 <= n <= capacity} (an unlimited bucket accepts any n)
   * @return true when taken
   */
  public boolean tryTake(long n) {
    if (rate == 0) {
      return true;
    }
    if (n < 1 || n > capacity) {
      throw new IllegalArgumentException("n must be in [1, " + capacity + "], got " + n);
    }
    refill();
    if (tokens >= n) {
      tokens -= n;
      return true;
    }
    return false;
  }

  /** Nanoseconds until {@code n} tokens will be available (0 when they already are or the bucket is unlimited). */
  public long nanosUntil(long n) {
    if (rate == 0) {
      return 0;
    }
    refill();
    double missing = Math.min(n, capacity) - tokens;
    if (missing <= 0) {
      return 0;
    }
    return (long) Math.ceil(missing * NANOS_PER_SECOND / rate);
  }

  /** Tokens available now, for tests and diagnostics. */
  public long available() {
    if (rate == 0) {
      return Long.MAX_VALUE;
    }
    refill();
    return (long) tokens;
  }

  private void refill() {
    long now = ticker.nanos();
    long elapsed = now - lastRefill;
    lastRefill = now;
    if (elapsed > 0 && rate > 0) {
      tokens = Math.min(capacity, tokens + (double) elapsed * rate / NANOS_PER_SECOND);
    }
  }
}
