package io.pullmesh.store.eviction;

import io.pullmesh.core.Digest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** The part every policy shares: order the candidates, then take a prefix that frees enough bytes. */
final class Victims {
  private Victims() {
  }

  /** Digest order: the last tie-break of every ranking, so that equal scores never depend on input order. */
  static final Comparator<EvictionCandidate> BY_DIGEST = Comparator.comparing(EvictionCandidate::digest);

  /**
   * Sorts a copy of {@code candidates} by {@code evictFirst} (which must be a total order, ending with
   * {@link #BY_DIGEST}) and returns the shortest prefix whose sizes reach {@code bytesToFree}, or all of them.
   */
  static List<Digest> take(List<EvictionCandidate> candidates, long bytesToFree,
      Comparator<EvictionCandidate> evictFirst) {
    requireDistinct(candidates);
    if (bytesToFree <= 0 || candidates.isEmpty()) {
      return List.of();
    }
    List<EvictionCandidate> ordered = new ArrayList<>(candidates);
    ordered.sort(evictFirst);
    return prefix(ordered, bytesToFree);
  }

  /** The shortest prefix of {@code ordered} whose sizes reach {@code bytesToFree}, or all of it. */
  static List<Digest> prefix(List<EvictionCandidate> ordered, long bytesToFree) {
    if (bytesToFree <= 0) {
      return List.of();
    }
    List<Digest> victims = new ArrayList<>();
    long freed = 0;
    for (EvictionCandidate c : ordered) {
      victims.add(c.digest());
      freed = saturatedAdd(freed, c.size());
      if (freed >= bytesToFree) {
        break;
      }
    }
    return List.copyOf(victims);
  }

  /** @throws IllegalArgumentException when a digest appears twice */
  static void requireDistinct(List<EvictionCandidate> candidates) {
    Set<Digest> seen = new HashSet<>();
    for (EvictionCandidate c : candidates) {
      if (!seen.add(c.digest())) {
        throw new IllegalArgumentException("candidate " + c.digest() + " appears more than once");
      }
    }
  }

  private static long saturatedAdd(long a, long b) {
    long r = a + b;
    return r < a ? Long.MAX_VALUE : r;
  }
}
