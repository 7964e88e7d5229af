package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class SharedFetchesTest {
  private final AtomicLong now = new AtomicLong(100);
  private final List<Runnable> timers = new ArrayList<>();
  private final SharedFetches<String> fetches = new SharedFetches<>(now::get, (ms, task) -> timers.add(task), 1000);

  @Test
  void requestsWhileAFetchRunsShareIt() {
    Promise<String> upstream = Promise.promise();
    AtomicInteger calls = new AtomicInteger();
    Future<String> first = fetches.join("k", now.get(), () -> { calls.incrementAndGet(); return upstream.future(); });
    Future<String> second = fetches.join("k", now.get(), () -> { calls.incrementAndGet(); return upstream.future(); });
    upstream.complete("m");
    assertEquals(1, calls.get());
    assertEquals("m", first.result());
    assertEquals("m", second.result());
  }

  @Test
  void aRequestThatReadTheCatalogBeforeTheAnswerSharesItAndOneThatReadAfterFetchesAgain() {
    long readBefore = now.get();
    Promise<String> upstream = Promise.promise();
    fetches.join("k", readBefore, upstream::future);
    now.addAndGet(10);
    upstream.complete("old");
    now.addAndGet(10);
    assertEquals("old", fetches.join("k", readBefore, () -> Future.succeededFuture("new")).result());
    assertEquals("new", fetches.join("k", now.get(), () -> Future.succeededFuture("new")).result());
  }

  @Test
  void aSuccessIsForgottenWhenItsGraceTimerFires() {
    fetches.join("k", now.get(), () -> Future.succeededFuture("m"));
    assertEquals(1, fetches.size());
    timers.forEach(Runnable::run);
    assertEquals(0, fetches.size());
  }

  /** Regression: a fetch that had failed before it was returned removed its key inside ConcurrentHashMap.compute. */
  @Test
  void regressionAFetchThatFailsAtOnceIsForgottenWithoutARecursiveUpdate() {
    RuntimeException refused = new IllegalStateException("no upstream for this host");
    Future<String> f = fetches.join("k", now.get(), () -> Future.failedFuture(refused));
    assertSame(refused, f.cause());
    assertEquals(0, fetches.size());
    assertEquals("m", fetches.join("k", now.get(), () -> Future.succeededFuture("m")).result());
  }

  @Test
  void aFetchThatThrowsFailsItsRequestsInsteadOfTheCaller() {
    Future<String> f = fetches.join("k", now.get(), () -> { throw new IllegalArgumentException("bad name"); });
    assertTrue(f.failed());
    assertEquals("bad name", f.cause().getMessage());
    assertEquals(0, fetches.size());
  }
}
