package io.pullmesh.testkit;

import io.vertx.core.Future;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Waiting in tests, with a deadline. Mostly polling until a condition holds, for state another thread changes a
 * moment after what the test did: a blob committed after the client already has its bytes, a node joining the mesh,
 * a metric recorded when Vert.x reports a response ended. The condition is asked every {@value #POLL_MILLIS} ms;
 * when it still does not hold at the deadline ({@link #DEFAULT_TIMEOUT} unless given), the test fails with an
 * {@link AssertionError} naming what it waited for. And {@link #await(Future)}, the result of a Vert.x future on a
 * test thread.
 *
 * <p>Not for: a pause of a fixed length (a test of timing should move a {@link ManualClock}), polling what the test
 * can be told directly (wait on the future, latch or callback instead), or main code. A deadline here is a bound on a
 * hang, not an assertion about speed: a test that means "within N seconds" should measure and assert that.
 */
public final class Waits {
  /** How long a wait lasts unless told otherwise: long enough for a loaded 2-CPU CI machine. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
  /** How often the condition is asked. */
  public static final long POLL_MILLIS = 10;

  private Waits() {}

  /** Waits up to {@link #DEFAULT_TIMEOUT} for {@code condition}; {@code what} says what was awaited. */
  public static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
    awaitTrue(condition, DEFAULT_TIMEOUT, () -> what);
  }

  /**
   * Waits up to {@link #DEFAULT_TIMEOUT} for {@code condition}; {@code what} is asked only on failure, so it may
   * describe the state at the deadline.
   */
  public static void awaitTrue(BooleanSupplier condition, Supplier<String> what) throws InterruptedException {
    awaitTrue(condition, DEFAULT_TIMEOUT, what);
  }

  /** Waits up to {@code timeout} for {@code condition}; {@code what} is asked only on failure. */
  public static void awaitTrue(BooleanSupplier condition, Duration timeout, Supplier<String> what) throws InterruptedException {
    awaitValue(condition::getAsBoolean, ok -> ok, timeout, ok -> what.get());
  }

  /**
   * Asks {@code probe} until its answer satisfies {@code done}, and returns that answer.
   *
   * @param failure the message when the deadline passes, from the last answer (which may be null)
   */
  public static <T> T awaitValue(Supplier<T> probe, Predicate<? super T> done, Duration timeout, Function<? super T, String> failure)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      T last = probe.get();
      if (done.test(last)) {
        return last;
      }
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("not so after " + describe(timeout) + ": " + failure.apply(last));
      }
      Thread.sleep(POLL_MILLIS);
    }
  }

  /**
   * The result of {@code f}, waiting up to {@link #DEFAULT_TIMEOUT}: for a test thread that calls an asynchronous API.
   *
   * @throws ExecutionException when it failed
   * @throws TimeoutException when it was not complete by then
   */
  public static <T> T await(Future<T> f) throws InterruptedException, ExecutionException, TimeoutException {
    return f.toCompletionStage().toCompletableFuture().get(DEFAULT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
  }

  private static String describe(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
  }
}
