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
 */
final class ConnectionThrottle {
  private final Ticker ticker;
  private final Map<HttpConnection, TokenBucket> buckets = new ConcurrentHashMap<>();
  private volatile long rate;

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

  /** The bucket of a connection, reconfigured to the current rate; call from the connection's event loop. */
  TokenBucket bucketFor(HttpConnection connection) {
    long r = rate;
    TokenBucket b = buckets.computeIfAbsent(connection, c -> new TokenBucket(r, TokenBucket.defaultCapacity(r), ticker));
    if (b.rate() != r) {
      b.reconfigure(r, TokenBucket.defaultCapacity(r));
    }
    return b;
  }

  void closed(HttpConnection connection) {
    buckets.remove(connection);
  }
}
