package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RateSharesTest {
  private static final long MS = 1_000_000L;
  private static final long SECOND = 1000 * MS;
  private static final long RATE = 4L << 20;
  private static final long QUANTUM = 64 << 10;

  /** A lane of a download, as the bucket sees it. */
  private record Lane(String download, int n) {}

  /**
   * Every lane reads its grant at once and asks again (lanes always have bytes to read: the cap binds); the clock moves
   * in 1 ms steps for {@code nanos}. Returns the bytes granted per download.
   */
  private static Map<String, Long> saturate(RateShares<Lane> shares, Map<String, Integer> lanesPerDownload, long nanos) {
    Map<String, Long> got = new HashMap<>();
    List<Lane> asking = new ArrayList<>();
    lanesPerDownload.forEach((d, n) -> {
      for (int i = 0; i < n; i++) {
        asking.add(new Lane(d, i));
      }
    });
    for (long now = 0; now <= nanos; now += MS) {
      List<Lane> next = new ArrayList<>();
      for (Lane l : asking) {
        long g = shares.ask(l.download(), l, now);
        if (g > 0) {
          got.merge(l.download(), g, Long::sum);
          next.add(l);
        }
      }
      for (Grant<Lane> g : shares.due(now)) {
        got.merge(g.lane().download(), g.bytes(), Long::sum);
        next.add(g.lane());
      }
      asking.clear();
      asking.addAll(next);
    }
    return got;
  }

  @Test
  void twoDownloadsShareTheCapEquallyWhetherTheyRunSixteenLanesOrTwo() {
    RateShares<Lane> shares = new RateShares<>(RATE, QUANTUM, 0);
    Map<String, Long> got = saturate(shares, Map.of("wide", 16, "narrow", 2), 10 * SECOND);
    long wide = got.get("wide");
    long narrow = got.get("narrow");
    // equal but for the first burst (the full bucket), which the first lanes to ask took before anyone waited
    long burst = Math.max(2 * QUANTUM, RATE / 10);
    assertTrue(Math.abs(wide - narrow) <= burst + QUANTUM, "16 lanes got " + wide + " bytes, 2 lanes got " + narrow);
  }

  @Test
  void theBytesGrantedStayAtTheCapPlusOneBurst() {
    RateShares<Lane> shares = new RateShares<>(RATE, QUANTUM, 0);
    Map<String, Long> got = saturate(shares, Map.of("a", 16, "b", 4, "c", 1), 10 * SECOND);
    long total = got.values().stream().mapToLong(Long::longValue).sum();
    long burst = Math.max(2 * QUANTUM, RATE / 10);
    assertTrue(total <= 10 * RATE + burst, "granted " + total + " in 10 s at a cap of " + RATE + "/s");
    assertTrue(total >= 10 * RATE - QUANTUM, "granted only " + total + " in 10 s at a cap of " + RATE + "/s");
  }

  @Test
  void aLaneIsGrantedAtOnceWhileTheBucketHasBytesAndNoOneWaits() {
    RateShares<Lane> shares = new RateShares<>(RATE, QUANTUM, 0);
    assertEquals(QUANTUM, shares.ask("a", new Lane("a", 0), 0));
    assertEquals(0, shares.waitingLanes());
  }

  @Test
  void aLaneWaitsBehindOthersEvenWhenTheBucketCouldPayForIt() {
    RateShares<Lane> shares = new RateShares<>(RATE, QUANTUM, 0);
    while (shares.ask("a", new Lane("a", 99), 0) > 0) {
      // empty the bucket
    }
    assertEquals(1, shares.waitingLanes());
    // enough for one grant later: the waiting lane gets it, a newcomer waits
    long later = shares.nanosUntilDue(0);
    assertTrue(later > 0 && later <= SECOND * QUANTUM / RATE + 1, "next grant in " + later + " ns");
    assertEquals(0, shares.ask("b", new Lane("b", 0), later));
    List<Grant<Lane>> due = shares.due(later);
    assertEquals(List.of(new Grant<>(new Lane("a", 99), QUANTUM)), due);
  }

  @Test
  void bytesReadPastAGrantDelayTheNextGrants() {
    RateShares<Lane> shares = new RateShares<>(RATE, QUANTUM, 0);
    while (shares.ask("a", new Lane("a", 0), 0) > 0) {
      // empty the bucket
    }
    long before = shares.nanosUntilDue(0);
    shares.overdrawn(RATE); // a whole second's worth
    assertTrue(shares.nanosUntilDue(0) >= before + SECOND - MS, "overdraft of one second's bytes delays the next grant by a second");
  }

  @Test
  void aLaneThatEndsStopsWaitingAndGivesBackWhatItDidNotRead() {
    RateShares<Lane> shares = new RateShares<>(RATE, QUANTUM, 0);
    Lane gone = new Lane("a", 1);
    while (shares.ask("a", new Lane("a", 0), 0) > 0) {
      // empty the bucket
    }
    assertEquals(0, shares.ask("a", gone, 0));
    shares.leave(gone, 0);
    assertEquals(1, shares.waitingLanes());
    shares.leave(new Lane("a", 0), QUANTUM);
    assertEquals(-1, shares.nanosUntilDue(0), "no one waits");
    assertEquals(QUANTUM, shares.ask("b", new Lane("b", 0), 0), "the unread grant came back to the bucket");
  }
}
