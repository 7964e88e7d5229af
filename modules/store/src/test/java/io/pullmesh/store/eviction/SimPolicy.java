package io.pullmesh.store.eviction;

import io.pullmesh.core.Digest;
import java.util.List;

/**
 * A policy as the {@link CacheSimulator} drives it. Production policies ({@link EvictionPolicy}) only see the
 * candidates; reference policies that need more (per-blob state the index does not keep, or the future) get
 * it through the callbacks, so they can be measured next to the real ones.
 */
interface SimPolicy {
  String name();

  List<Digest> selectVictims(List<EvictionCandidate> candidates, long bytesToFree, long nowMillis);

  /** A blob was served: a hit, or the download of a miss ({@code hit == false}). */
  default void onAccess(Digest d, long size, long nowMillis, boolean hit) {
  }

  /** A blob was removed from the cache. */
  default void onEvict(Digest d) {
  }

  /** Called once before a run: reference policies reset their state and may read the trace. */
  default void reset(Trace trace) {
  }

  static SimPolicy of(String name, EvictionPolicy policy) {
    return new SimPolicy() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public List<Digest> selectVictims(List<EvictionCandidate> candidates, long bytesToFree, long nowMillis) {
        return policy.selectVictims(candidates, bytesToFree, nowMillis);
      }
    };
  }
}
