package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.fetch.RetryPolicy.Action;
import io.pullmesh.fetch.UpstreamException.Kind;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class RetryPolicyTest {
  /** Backoff 100 ms doubling to 1 s, with the jitter at its middle (factor 1). */
  private final RetryPolicy policy = new RetryPolicy(3, new Backoff(Duration.ofMillis(100), Duration.ofSeconds(1), () -> 0.5));

  private static UpstreamException failure(Kind kind, int status) {
    return new UpstreamException(kind, status, "blob x: " + kind);
  }

  @Test
  void anExpiredUrlIsResolvedAgain() {
    assertInstanceOf(Action.Relocate.class, policy.afterUpstreamLane(failure(Kind.URL_REFUSED, 403), 0));
  }

  @Test
  void aRangeIgnoredFallsBackToOneStream() {
    assertInstanceOf(Action.Stream.class, policy.afterUpstreamLane(failure(Kind.RANGE_IGNORED, 200), 0));
  }

  @Test
  void aMissingBlobOrARefusalFailsAtOnce() {
    for (Kind k : new Kind[] {Kind.NOT_FOUND, Kind.DENIED, Kind.FATAL}) {
      UpstreamException u = failure(k, 404);
      assertEquals(new Action.Fail(u), policy.afterUpstreamLane(u, 0));
    }
  }

  @Test
  void aRetryableFailureIsRetriedAfterABackoffThatGrowsWithTheTries() {
    assertEquals(new Action.Retry(100, "status"), policy.afterUpstreamLane(failure(Kind.RETRYABLE, 503), 1));
    assertEquals(new Action.Retry(200, "timeout"), policy.afterUpstreamLane(failure(Kind.TIMEOUT, 0), 2));
    assertEquals(new Action.Retry(100, "error"), policy.afterUpstreamLane(failure(Kind.RETRYABLE, 0), 1));
  }

  @Test
  void thePieceGivesUpAfterItsLastTryAndSaysSo() {
    Action a = policy.afterUpstreamLane(failure(Kind.RETRYABLE, 503), 3);
    assertTrue(((Action.Fail) a).cause().getMessage().endsWith("(gave up after 3 tries)"));
  }

  @Test
  void aStreamThatEndedEarlyIsRetriedUntilItsTriesAreSpent() {
    assertEquals(new Action.Retry(100, "error"), policy.afterStream(null, 1, "blob x"));
    Action last = policy.afterStream(null, 3, "blob x");
    assertEquals("blob x: upstream stream ended early", ((Action.Fail) last).cause().getMessage());
  }

  @Test
  void waitingOnThePeerThatFetchesFromUpstreamIsNotHeldAgainstIt() {
    assertEquals(new Action.PeerLater(false, false), RetryPolicy.afterPeerLane(failure(Kind.TIMEOUT, 0), 2, true));
    assertEquals(new Action.PeerLater(true, false), RetryPolicy.afterPeerLane(failure(Kind.TIMEOUT, 0), 1, false));
    assertEquals(new Action.PeerLater(true, true), RetryPolicy.afterPeerLane(failure(Kind.RETRYABLE, 0), 2, false),
        "the third failure in a row penalises the peer");
  }

  @Test
  void locatingIsRetriedOnlyForWhatRetryingCanFix() {
    assertInstanceOf(Action.Retry.class, policy.afterLocate(failure(Kind.RETRYABLE, 502), 1));
    assertInstanceOf(Action.Fail.class, policy.afterLocate(failure(Kind.NOT_FOUND, 404), 1));
    assertInstanceOf(Action.Fail.class, policy.afterLocate(failure(Kind.RETRYABLE, 502), 3));
  }
}
