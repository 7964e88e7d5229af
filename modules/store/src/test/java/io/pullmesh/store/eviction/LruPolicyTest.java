package io.pullmesh.store.eviction;

import static io.pullmesh.store.eviction.Candidates.GB;
import static io.pullmesh.store.eviction.Candidates.at;
import static io.pullmesh.store.eviction.Candidates.blob;
import static io.pullmesh.store.eviction.Candidates.digests;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.pullmesh.core.Digest;
import java.util.List;
import org.junit.jupiter.api.Test;

class LruPolicyTest {
  final LruPolicy lru = new LruPolicy();
  final long now = at(30);

  final List<EvictionCandidate> three = List.of(
      blob("popular", 4 * GB, 500, 0, 29),
      blob("old", 1 * GB, 1, 0, 2),
      blob("middle", 2 * GB, 3, 0, 10));

  @Test
  void leastRecentlyUsedFirstWhateverSizeOrUse() {
    assertEquals(digests("old", "middle", "popular"), lru.selectVictims(three, 7 * GB, now));
  }

  @Test
  void stopsAsSoonAsEnoughIsFreed() {
    assertEquals(digests("old"), lru.selectVictims(three, 1, now));
    assertEquals(digests("old"), lru.selectVictims(three, 1 * GB, now), "exactly enough");
    assertEquals(digests("old", "middle"), lru.selectVictims(three, 1 * GB + 1, now));
    assertEquals(digests("old", "middle"), lru.selectVictims(three, 3 * GB, now));
  }

  @Test
  void notEnoughMeansEveryCandidateInOrder() {
    assertEquals(digests("old", "middle", "popular"), lru.selectVictims(three, 100 * GB, now));
  }

  @Test
  void nothingToDo() {
    assertEquals(List.of(), lru.selectVictims(List.of(), 5 * GB, now));
    assertEquals(List.of(), lru.selectVictims(three, 0, now));
    assertEquals(List.of(), lru.selectVictims(three, -1, now));
  }

  @Test
  void tiesGoToTheOlderCommitThenTheSmallerDigest() {
    List<EvictionCandidate> tied = List.of(blob("b", GB, 2, 1, 5), blob("a", GB, 2, 1, 5), blob("c", GB, 2, 0, 5));
    List<Digest> ab = digests("a", "b");
    ab.sort(null);
    List<Digest> expected = new java.util.ArrayList<>(digests("c"));
    expected.addAll(ab);
    assertEquals(expected, lru.selectVictims(tied, 3 * GB, now));
    for (long seed = 0; seed < 10; seed++) {
      assertEquals(expected, lru.selectVictims(Candidates.shuffled(tied, seed), 3 * GB, now));
    }
  }

  @Test
  void refusesADigestTwice() {
    List<EvictionCandidate> twice = List.of(blob("a", GB, 1, 0, 1), blob("a", GB, 2, 0, 3));
    assertThrows(IllegalArgumentException.class, () -> lru.selectVictims(twice, 1, now));
  }
}
