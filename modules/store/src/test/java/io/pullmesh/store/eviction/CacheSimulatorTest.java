package io.pullmesh.store.eviction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Digest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CacheSimulatorTest {
  static final String TRACE = String.join("\n",
      "# tiny hand-made trace",
      Trace.HEADER,
      "0,pc01,a,a/w:60 a/t:1",
      "10,pc02,b,b/w:50 b/t:1",
      "20,pc01,a,a/w:60 a/t:1",
      "30,pc03,c,c/w:45 c/t:2",
      "40,pc03,a,a/w:60 a/t:1",
      "");

  /** LRU, recording what it was offered. */
  static final class Recording implements SimPolicy {
    final List<Set<Digest>> offered = new ArrayList<>();

    @Override
    public String name() {
      return "recording LRU";
    }

    @Override
    public List<Digest> selectVictims(List<EvictionCandidate> candidates, long bytesToFree, long nowMillis) {
      Set<Digest> s = new HashSet<>();
      candidates.forEach(c -> s.add(c.digest()));
      offered.add(s);
      return new LruPolicy().selectVictims(candidates, bytesToFree, nowMillis);
    }
  }

  @Test
  void countsHitsAndBytesWhenEverythingFits() {
    Trace t = Trace.parse("tiny", TRACE);
    CacheSimulator.Result r = CacheSimulator.run(t, 1000, SimPolicy.of("LRU", new LruPolicy()));
    assertEquals(10, r.requests());
    assertEquals(4, r.hits(), "a twice more");
    assertEquals(61 + 51 + 61 + 47 + 61, r.requestedBytes());
    assertEquals(122, r.hitBytes());
    assertEquals(61 + 51 + 47, r.fetchedBytes());
    assertEquals(5, r.pulls());
    assertEquals(2, r.wholePullHits());
    assertEquals(0, r.evictions());
    assertEquals(0.4, r.objectHitRatio(), 1e-12);
  }

  @Test
  void neverOffersTheBlobsOfThePullBeingServed() {
    Trace t = Trace.parse("tiny", TRACE);
    Recording rec = new Recording();
    CacheSimulator.Result r = CacheSimulator.run(t, 112, rec);
    assertFalse(rec.offered.isEmpty());
    // c's weights need room at t=30: a and b are cached, c/t not yet; c/w itself is in use
    assertTrue(rec.offered.stream().noneMatch(s -> s.contains(Trace.digestOf("c/w")) || s.contains(Trace.digestOf("c/t"))));
    assertTrue(r.evictions() > 0);
    assertEquals(0, r.maxOvershoot());
  }

  @Test
  void aModelBiggerThanTheCacheIsStillServedAndTheOvershootReported() {
    Trace t = Trace.parse("tiny", TRACE);
    Recording rec = new Recording();
    CacheSimulator.Result r = CacheSimulator.run(t, 50, rec);
    // a/w (60) alone exceeds 50; with nothing else to evict the blob goes in anyway
    assertEquals(11, r.maxOvershoot(), "a/w and a/t, both in use, over a 50-byte cache");
    assertTrue(rec.offered.get(0).isEmpty());
  }

  @Test
  void rememberingEvictedBlobsRestoresTheirHistory() {
    Trace t = Trace.parse("tiny", TRACE);
    List<EvictionCandidate> seen = new ArrayList<>();
    SimPolicy spy = new SimPolicy() {
      @Override
      public String name() {
        return "spy";
      }

      @Override
      public List<Digest> selectVictims(List<EvictionCandidate> candidates, long bytesToFree, long nowMillis) {
        seen.addAll(candidates);
        return new LruPolicy().selectVictims(candidates, bytesToFree, nowMillis);
      }
    };
    CacheSimulator.run(t, 112, spy, true);
    // a was pulled at 0 and 20, evicted for c at 30, fetched again at 40: its record keeps the first commit
    assertTrue(seen.stream().anyMatch(c -> c.accessCount() > 0));
  }

  @Test
  void ollamaMakesOneRequestPerPartPlusOne() {
    assertEquals(2, CacheSimulator.ollamaRequestsPerPull(500), "a template: resolve + one part");
    assertEquals(6, CacheSimulator.ollamaRequestsPerPull(500_000_000L), "100 MB parts");
    assertEquals(17, CacheSimulator.ollamaRequestsPerPull(4_000_000_000L), "16 parts");
    assertEquals(21, CacheSimulator.ollamaRequestsPerPull(20_000_000_000L), "1000 MB parts");
  }

  @Test
  void contractViolationsAreCaught() {
    List<EvictionCandidate> c = List.of(Candidates.blob("x", 10, 1, 0, 0), Candidates.blob("y", 10, 1, 0, 0));
    Digest x = Candidates.d("x");
    Digest y = Candidates.d("y");
    CacheSimulator.checkContract("ok", c, 5, List.of(x));
    CacheSimulator.checkContract("ok", c, 50, List.of(x, y));
    assertThrows(AssertionError.class, () -> CacheSimulator.checkContract("short", c, 15, List.of(x)));
    assertThrows(AssertionError.class, () -> CacheSimulator.checkContract("extra", c, 5, List.of(x, y)));
    assertThrows(AssertionError.class, () -> CacheSimulator.checkContract("twice", c, 15, List.of(x, x)));
    assertThrows(AssertionError.class,
        () -> CacheSimulator.checkContract("stranger", c, 5, List.of(Candidates.d("z"))));
  }
}
