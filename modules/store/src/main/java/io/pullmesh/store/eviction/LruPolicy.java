package io.pullmesh.store.eviction;

import io.pullmesh.core.Digest;
import java.util.Comparator;
import java.util.List;

/**
 * Plain least-recently-used: the blob whose last access is oldest goes first, whatever its size or how often
 * it was used. The baseline the pullmesh policy ({@link DecayedFrequencyPolicy}) is measured against; not
 * recommended for a model cache, because one pull of a big model nobody needs again pushes out models the
 * whole office uses (see docs/eviction.md).
 *
 * <p>Ties (same last access) go to the older commit, then to the smaller digest, so the answer never
 * depends on the order of the candidates.
 */
public final class LruPolicy implements EvictionPolicy {
  private static final Comparator<EvictionCandidate> ORDER =
      Comparator.comparingLong(EvictionCandidate::lastAccessMillis)
          .thenComparingLong(EvictionCandidate::createdMillis)
          .thenComparing(Victims.BY_DIGEST);

  @Override
  public List<Digest> selectVictims(List<EvictionCandidate> candidates, long bytesToFree, long nowMillis) {
    return Victims.take(candidates, bytesToFree, ORDER);
  }

  @Override
  public String toString() {
    return "LRU";
  }
}
