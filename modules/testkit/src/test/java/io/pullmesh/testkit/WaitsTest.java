package io.pullmesh.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Promise;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class WaitsTest {
  @Test
  void aConditionThatBecomesTrueEndsTheWait() throws Exception {
    AtomicInteger asked = new AtomicInteger();
    Waits.awaitTrue(() -> asked.incrementAndGet() == 3, "the third ask");
    assertEquals(3, asked.get());
  }

  @Test
  void aConditionThatNeverHoldsFailsAtTheDeadlineWithTheStateThen() {
    AtomicInteger asked = new AtomicInteger();
    long start = System.nanoTime();
    AssertionError e = assertThrows(AssertionError.class,
        () -> Waits.awaitTrue(() -> asked.incrementAndGet() < 0, Duration.ofMillis(200), () -> "asked " + asked.get() + " times"));
    assertTrue(System.nanoTime() - start >= Duration.ofMillis(200).toNanos(), "waited out the deadline");
    assertEquals("not so after 200 ms: asked " + asked.get() + " times", e.getMessage());
    assertTrue(asked.get() > 1, "asked again and again");
  }

  @Test
  void awaitValueReturnsTheAnswerThatSatisfied() throws Exception {
    AtomicInteger n = new AtomicInteger();
    assertEquals(5, Waits.awaitValue(n::incrementAndGet, v -> v >= 5, Duration.ofSeconds(5), v -> "five"));
    AssertionError e = assertThrows(AssertionError.class, () -> Waits.awaitValue(() -> "last", v -> false, Duration.ZERO, v -> "got " + v));
    assertEquals("not so after 0 s: got last", e.getMessage());
  }

  @Test
  void awaitGivesAFuturesResultOrItsFailure() throws Exception {
    assertEquals("done", Waits.await(io.vertx.core.Future.succeededFuture("done")));
    Promise<String> p = Promise.promise();
    p.fail(new IllegalStateException("broke"));
    ExecutionException e = assertThrows(ExecutionException.class, () -> Waits.await(p.future()));
    assertEquals("broke", e.getCause().getMessage());
  }
}
