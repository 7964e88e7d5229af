package io.pullmesh.proxy;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * One upstream fetch per key at a time. A request shares a fetch still running, and one that answered after this
 * request read the catalog (it read the catalog before that answer was saved, so it would otherwise fetch again; issue
 * 18: one cold tag, 10 concurrent requests, 2 upstream GETs). A fetch that answered before the request read the catalog
 * is never shared: the request saw what it saved, and asked again on purpose (a refresh, an expired TTL).
 *
 * <p>A success is kept for a grace period so that requests that read the catalog just before it was saved still find
 * it; a failure is forgotten at once, so the next request asks again. Not for caching answers: the catalog does that.
 * The fetch itself runs outside the map's lock, so a fetch that fails at once cannot update the map recursively.
 */
final class SharedFetches<V> {
  private final Map<String, Shared<V>> pending = new ConcurrentHashMap<>();
  private final LongSupplier nanoTime;
  private final BiConsumer<Long, Runnable> later;
  private final long graceMs;

  /**
   * @param nanoTime the clock {@code readAt} is measured on
   * @param later runs a task after so many milliseconds (a Vert.x timer in the node)
   * @param graceMs how long a success stays shared after it answered
   */
  SharedFetches(LongSupplier nanoTime, BiConsumer<Long, Runnable> later, long graceMs) {
    this.nanoTime = nanoTime;
    this.later = later;
    this.graceMs = graceMs;
  }

  /**
   * The running or just-answered fetch for {@code key}, or a new one started with {@code fetch}.
   *
   * @param readAt the clock's reading before this request read the catalog
   */
  Future<V> join(String key, long readAt, Supplier<Future<V>> fetch) {
    Promise<V> started = Promise.promise();
    Shared<V> fresh = new Shared<>(started.future());
    Shared<V> s = pending.compute(key, (k, running) ->
        running != null && (!running.future.isComplete() || running.answeredAt > readAt) ? running : fresh);
    if (s == fresh) {
      fresh.future.onComplete(ar -> {
        fresh.answeredAt = nanoTime.getAsLong();
        if (ar.succeeded()) {
          later.accept(graceMs, () -> pending.remove(key, fresh));
        } else {
          pending.remove(key, fresh);
        }
      });
      Future<V> f;
      try {
        f = fetch.get();
      } catch (RuntimeException e) {
        f = Future.failedFuture(e);
      }
      f.onComplete(started);
    }
    return s.future;
  }

  /** How many keys have a fetch running or kept; for tests. */
  int size() {
    return pending.size();
  }

  /** A fetch shared by the requests for one key, and when it answered. */
  private static final class Shared<V> {
    final Future<V> future;
    volatile long answeredAt = Long.MAX_VALUE;

    Shared(Future<V> future) {
      this.future = future;
    }
  }
}
