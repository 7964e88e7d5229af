package io.pullmesh.fetch;

import java.util.HashMap;
import java.util.Map;

/**
 * The connection budget of one download: how many lanes (open ranged requests) it has, in all and per peer, against
 * the most it may have. Every lane is taken with {@link #acquire} and given back once with {@link #release}, whatever
 * ends it: one place for the bookkeeping, so a lane cannot leak on one path and not another. Pure; not thread-safe (the
 * download's lock guards it).
 */
final class Lanes {
  private final int max;
  private final int perPeer;
  private int inUse;
  private final Map<String, Integer> toPeer = new HashMap<>();

  /**
   * @param max lanes of one download in all ({@link FetchConfig#connections()})
   * @param perPeer most lanes to one peer that holds the bytes already
   */
  Lanes(int max, int perPeer) {
    this.max = max;
    this.perPeer = perPeer;
  }

  boolean hasRoom() {
    return inUse < max;
  }

  int inUse() {
    return inUse;
  }

  /** Lanes open to {@code node} now. */
  int toPeer(String node) {
    return toPeer.getOrDefault(node, 0);
  }

  /** Whether another lane may go to {@code node}: one that holds the bytes already (at most {@code perPeer}), or the one streaming them as they arrive (up to {@code max}). */
  boolean peerHasRoom(String node, boolean streaming) {
    return toPeer(node) < (streaming ? max : perPeer);
  }

  void acquire(Source s) {
    inUse++;
    if (s instanceof Source.Peer p) {
      toPeer.merge(p.node(), 1, Integer::sum);
    }
  }

  void release(Source s) {
    if (inUse <= 0) {
      throw new IllegalStateException("a lane was given back twice");
    }
    inUse--;
    if (s instanceof Source.Peer p) {
      toPeer.computeIfPresent(p.node(), (k, n) -> n > 1 ? n - 1 : null);
    }
  }
}
