package io.pullmesh.store.eviction;

import static io.pullmesh.store.eviction.Candidates.DAY;
import static io.pullmesh.store.eviction.Candidates.GB;
import static io.pullmesh.store.eviction.Candidates.KB;
import static io.pullmesh.store.eviction.Candidates.at;
import static io.pullmesh.store.eviction.Candidates.blob;
import static io.pullmesh.store.eviction.Candidates.d;
import static io.pullmesh.store.eviction.Candidates.digests;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Digest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DecayedFrequencyPolicyTest {
  final DecayedFrequencyPolicy policy = DecayedFrequencyPolicy.withDefaults();
  final LruPolicy lru = new LruPolicy();
  final long now = at(30);

  /** The first victim when at least one byte must go. */
  Digest first(EvictionPolicy p, List<EvictionCandidate> candidates) {
    return p.selectVictims(candidates, 1, now).get(0);
  }

  @Test
  void tinyBlobsOutliveBigColdOnes() {
    // a model's template: same history as its weights
    List<EvictionCandidate> sameHistory = List.of(
        blob("m/weights", 4 * GB, 3, 0, 20),
        blob("m/template", 1 * KB, 3, 0, 20));
    assertEquals(digests("m/weights", "m/template"), policy.selectVictims(sameHistory, 4 * GB + 1, now));
    // even a template untouched for 20 days stays before a big blob pulled once yesterday
    List<EvictionCandidate> staleTiny = List.of(
        blob("old/template", 1 * KB, 1, 10, 10),
        blob("new/weights", 4 * GB, 1, 29, 29));
    assertEquals(d("new/weights"), first(policy, staleTiny));
    assertEquals(d("old/template"), first(lru, staleTiny), "LRU for contrast");
  }

  @Test
  void theBigBlobPulledOnceLongAgoGoesFirst() {
    List<EvictionCandidate> c = List.of(
        blob("popular", 4 * GB, 40, 0, 29.9),
        blob("once-long-ago", 4 * GB, 1, 5, 5),
        blob("weekly", 4 * GB, 5, 2, 29));
    assertEquals(d("once-long-ago"), first(policy, c));
  }

  @Test
  void aBlobUsedOnceLongAgoLosesToOneUsedOftenRecently() {
    List<EvictionCandidate> c = List.of(
        blob("often-recently", 2 * GB, 20, 25, 29.9),
        blob("once-long-ago", 2 * GB, 1, 0, 0));
    assertEquals(d("once-long-ago"), first(policy, c));
    assertTrue(policy.log2Value(c.get(0), now) > policy.log2Value(c.get(1), now) + 10, "not a close call");
  }

  @Test
  void oneOffPullsOfBigModelsDoNotFlushPopularOnes() {
    List<EvictionCandidate> c = List.of(
        blob("popular/weights", 4 * GB, 30, 10, 29),
        blob("one-off/weights", 9 * GB, 1, 29.999, 29.999));
    assertEquals(d("one-off/weights"), first(policy, c));
    assertEquals(d("popular/weights"), first(lru, c), "LRU would evict the popular model");
  }

  @Test
  void popularityDecays() {
    EvictionCandidate oldFavourite = blob("last-month", 4 * GB, 200, -30, 0);
    EvictionCandidate newModerate = blob("this-week", 4 * GB, 5, 20, 28);
    // the day after its last pull, last month's favourite was worth more than the newcomer is now ...
    assertTrue(policy.log2Value(oldFavourite, at(1)) > policy.log2Value(newModerate, now));
    // ... after a month of silence it goes first
    assertEquals(d("last-month"), first(policy, List.of(oldFavourite, newModerate)));
  }

  @Test
  void aModelWhosePullsStoppedLosesItsHistory() {
    // pulled 100 times over 20 days, then silence for 10 days; a newcomer pulled 4 times in 4 days
    List<EvictionCandidate> c = List.of(
        blob("faded", 4 * GB, 100, 0, 20),
        blob("newcomer", 4 * GB, 4, 26, 29.5));
    assertEquals(d("faded"), first(policy, c));
  }

  @Test
  void valueFallsWithSilenceAndRisesWithRequests() {
    for (int n = 1; n < 50; n++) {
      double previous = Double.POSITIVE_INFINITY;
      for (double idleDays = 0; idleDays < 60; idleDays += 0.5) {
        double v = policy.log2Value(blob("x", GB, n, 0, 30 - idleDays), now);
        assertTrue(v < previous, "n=" + n + " idle=" + idleDays);
        assertTrue(v > policy.log2Value(blob("x", GB, n, 0, 30 - idleDays - 0.5), now));
        // one more request never lowers the value (equal only once the extra term is below double precision)
        double more = policy.log2Value(blob("x", GB, n + 1, 0, 30 - idleDays), now);
        assertTrue(v <= more, "n=" + n + " idle=" + idleDays);
        if (idleDays * n < 90) { // the extra request weighs more than 2^-30 of the rest
          assertTrue(v < more, "n=" + n + " idle=" + idleDays);
        }
        previous = v;
      }
    }
  }

  @Test
  void sizeDoesNotMatterForBigBlobsWithTheSameHistory() {
    double small = policy.log2Value(blob("a", GB / 2, 7, 3, 28), now);
    double big = policy.log2Value(blob("b", 9 * GB, 7, 3, 28), now);
    assertEquals(small, big, 0.01);
  }

  @Test
  void exactlyEnoughVictims() {
    List<EvictionCandidate> c = List.of(
        blob("v1", 3 * GB, 1, 1, 1),
        blob("v2", 5 * GB, 1, 2, 2),
        blob("v3", 7 * GB, 1, 3, 3));
    assertEquals(digests("v1"), policy.selectVictims(c, 3 * GB, now));
    assertEquals(digests("v1", "v2"), policy.selectVictims(c, 3 * GB + 1, now));
    assertEquals(digests("v1", "v2"), policy.selectVictims(c, 8 * GB, now));
    assertEquals(digests("v1", "v2", "v3"), policy.selectVictims(c, 8 * GB + 1, now));
  }

  @Test
  void notEnoughCandidatesMeansAllOfThemInOrder() {
    List<EvictionCandidate> c = List.of(blob("keep", 3 * GB, 9, 20, 29), blob("go", 2 * GB, 1, 3, 3));
    assertEquals(digests("go", "keep"), policy.selectVictims(c, 100 * GB, now));
  }

  @Test
  void nothingToDo() {
    assertEquals(List.of(), policy.selectVictims(List.of(), 5 * GB, now));
    List<EvictionCandidate> c = List.of(blob("a", GB, 1, 1, 1));
    assertEquals(List.of(), policy.selectVictims(c, 0, now));
    assertEquals(List.of(), policy.selectVictims(c, -5, now));
  }

  @Test
  void emptyBlobsGoLast() {
    List<EvictionCandidate> c = List.of(blob("empty", 0, 1, 0, 0), blob("big", GB, 50, 0, 29.9));
    assertEquals(digests("big", "empty"), policy.selectVictims(c, 2 * GB, now));
  }

  @Test
  void sameAnswerWhateverTheInputOrderOrTheClockEpoch() {
    List<EvictionCandidate> c = new ArrayList<>();
    java.util.Random r = new java.util.Random(7);
    for (int i = 0; i < 60; i++) {
      double first = r.nextDouble() * 30;
      double last = first + r.nextDouble() * (30 - first);
      long size = i % 4 == 0 ? 1 + r.nextInt(10_000) : (long) (GB * (0.5 + 8.5 * r.nextDouble()));
      c.add(blob("b" + i, size, 1 + r.nextInt(i % 3 == 0 ? 2 : 60), first, last));
    }
    // some exact ties too
    c.add(blob("tie1", GB, 3, 4, 9));
    c.add(blob("tie2", GB, 3, 4, 9));
    List<Digest> expected = policy.selectVictims(c, 40 * GB, now);
    assertTrue(expected.size() > 3);
    for (long seed = 0; seed < 20; seed++) {
      assertEquals(expected, policy.selectVictims(Candidates.shuffled(c, seed), 40 * GB, now));
    }
    long delta = 1234 * DAY + 567;
    assertEquals(expected, policy.selectVictims(Candidates.shiftedBy(c, delta), 40 * GB, now + delta));
    assertEquals(expected, policy.selectVictims(Candidates.shiftedBy(c, -delta), 40 * GB, now - delta));
  }

  @Test
  void toleratesClockSteps() {
    // last access after now, commit after last access: counted as now, and as the last access
    EvictionCandidate future = new EvictionCandidate(d("future"), GB, now + DAY, 4, now + 2 * DAY);
    EvictionCandidate justNow = new EvictionCandidate(d("just-now"), GB, now, 4, now);
    assertEquals(policy.log2Value(justNow, now), policy.log2Value(future, now));
    assertFalse(Double.isNaN(policy.log2Value(future, now)));
    assertEquals(2, policy.selectVictims(List.of(future, justNow), 2 * GB, now).size());
  }

  @Test
  void extremeValuesStayFinite() {
    EvictionCandidate huge = new EvictionCandidate(d("huge"), Long.MAX_VALUE, Long.MIN_VALUE, Long.MAX_VALUE, Long.MIN_VALUE);
    EvictionCandidate dense = new EvictionCandidate(d("dense"), GB, now, Long.MAX_VALUE - 1, now);
    EvictionCandidate one = new EvictionCandidate(d("one"), 1, now, 0, now);
    for (EvictionCandidate c : List.of(huge, dense, one)) {
      double v = policy.log2Value(c, now);
      assertFalse(Double.isNaN(v), c.toString());
      assertNotEquals(Double.POSITIVE_INFINITY, v, c.toString());
    }
    // the sizes add up without overflowing: the huge blob alone is enough
    assertEquals(digests("huge"), policy.selectVictims(List.of(one, dense, huge), Long.MAX_VALUE, now));
    assertEquals(2, policy.selectVictims(List.of(one, dense), Long.MAX_VALUE, now).size());
  }

  @Test
  void halfLifeSetsHowFastValueDecays() {
    DecayedFrequencyPolicy day = new DecayedFrequencyPolicy(Duration.ofDays(1), 0);
    EvictionCandidate c = blob("x", GB, 1, 27, 27);
    assertEquals(-3.0, day.log2Value(c, now), 1e-9, "pulled once, three half-lives ago: 1/8");
    assertEquals(-1.0, policy.log2Value(blob("x", GB, 1, 27, 27), now), 0.01, "default: three days");
  }

  @Test
  void refusesBadArguments() {
    assertThrows(IllegalArgumentException.class, () -> new DecayedFrequencyPolicy(Duration.ZERO, 0));
    assertThrows(IllegalArgumentException.class, () -> new DecayedFrequencyPolicy(Duration.ofDays(-1), 0));
    assertThrows(IllegalArgumentException.class, () -> new DecayedFrequencyPolicy(Duration.ofDays(1), -1));
    assertThrows(IllegalArgumentException.class, () -> new EvictionCandidate(d("x"), -1, 0, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> new EvictionCandidate(d("x"), 1, 0, -1, 0));
    assertThrows(NullPointerException.class, () -> new EvictionCandidate(null, 1, 0, 0, 0));
    List<EvictionCandidate> twice = List.of(blob("a", GB, 1, 0, 1), blob("a", GB, 2, 0, 3));
    assertThrows(IllegalArgumentException.class, () -> policy.selectVictims(twice, 1, now));
  }
}
