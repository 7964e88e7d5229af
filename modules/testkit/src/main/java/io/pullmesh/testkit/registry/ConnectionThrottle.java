package io.pullmesh.testkit.registry;

import io.pullmesh.testkit.throttle.Ticker;
import io.pullmesh.testkit.throttle.TokenBucket;
import io.vertx.core.http.HttpConnection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Bandwidth per TCP connection of one server: a {@link TokenBucket} per {@link HttpConnection}, all sharing a
 * rate a test may change at any time (0 = unlimited). Stands for the per-connection bandwidth a CDN edge or a
 * WAN link gives one client connection; requests kept alive on one connection share its bucket.
 *
 * <p>Slow edges: with {@link #setSlowEdges}, every {@code every}-th connection accepted gets the rate divided by
 * {@code factor} (an unlimited rate stays unlimited), like a client whose connections land on edges of uneven load (the
 * tail that makes pulls crawl at 99%, ollama #1736, #8971). Connections are counted in the order they next send a body
 * after the setting, kept-alive ones included, and keep their lot until the next setting.
 */
final class ConnectionThrottle {
  private final Ticker ticker;
  private final Map<HttpConnection, TokenBucket> buckets = new ConcurrentHashMap<>();
  private final Map<HttpConnection, Boolean> slow = new ConcurrentHashMap<>();
  private final java.util.concurrent.atomic.AtomicLong counted = new java.util.concurrent.atomic.AtomicLong();
  private volatile long rate;
  private volatile int slowEvery;
  private volatile int slowFactor = 1;

  ConnectionThrottle(long bytesPerSecond, Ticker ticker) {
    setRate(bytesPerSecond);
    this.ticker = ticker;
  }

  void setRate(long bytesPerSecond) {
    if (bytesPerSecond < 0) {
      throw new IllegalArgumentException("bytes per second must be >= 0 (0 = unlimited), got " + bytesPerSecond);
    }
    rate = bytesPerSecond;
  }

  long rate() {
    return rate;
  }

  /** Every {@code every}-th connection from now on is {@code factor} times slower; {@code every} 0 turns it off. */
  void setSlowEdges(int every, int factor) {
    if (every < 0 || factor < 1) {
      throw new IllegalArgumentException("slow edges: every " + every + ", factor " + factor + " (expected: every >= 0, factor >= 1)");
    }
    slowFactor = factor;
    slowEvery = every;
    counted.set(0);
    slow.clear();
  }

  /** The bucket of a connection, reconfigured to the current rate; call from the connection's event loop. */
  TokenBucket bucketFor(HttpConnection connection) {
    int every = slowEvery;
    boolean isSlow = slow.computeIfAbsent(connection, c -> every > 0 && counted.incrementAndGet() % every == 0);
    long r = isSlow && rate > 0 ? Math.max(1, rate / slowFactor) : rate;
    TokenBucket b = buckets.computeIfAbsent(connection, c -> new TokenBucket(r, TokenBucket.defaultCapacity(r), ticker));
    if (b.rate() != r) {
      b.reconfigure(r, TokenBucket.defaultCapacity(r));
    }
    return b;
  }

  void closed(HttpConnection connection) {
    buckets.remove(connection);
    slow.remove(connection);
  }
}
