package io.pullmesh.fetch;

import java.util.List;

/**
 * Which peer of the mesh a piece should come from, among the peers that hold it or are getting it: what makes a mesh
 * a swarm rather than a star. Pure functions of their arguments (the same on every node, so nodes agree without
 * talking); it opens nothing and counts no lane ({@link SourcePicker} checks the lane limits and says what to do when
 * nobody fits).
 *
 * <p><b>Holders.</b> Among peers that have a piece's bytes already, those that are not the upstream fetcher come first
 * (its uplink carries what the mesh has not yet got); among them the one with the highest score of this node, the
 * holder and the piece: random, so different nodes go to different holders for the same piece and the load spreads
 * over every holder.
 *
 * <p><b>Relays.</b> While a blob still arrives, nobody but the fetcher has its newest pieces, and every node wants
 * them at the same moment. So each piece has one <em>relay</em>: of the nodes downloading the blob that do not fetch
 * it from upstream (this node and every partial holder), the one with the highest {@link #score rendezvous score}
 * for the piece. The relay streams the piece from the fetcher; every other downloader streams it from the relay, as
 * its bytes arrive. The fetcher's uplink then carries each piece about once, and the relays' uplinks carry the rest.
 * As scores are the same on every node, a node only ever waits on one with a higher score for the piece: chains of
 * relays end at a node that goes to the fetcher, and never loop, even while nodes see different sets of downloaders.
 *
 * <p>Not for lane limits, for the order of pieces ({@link PieceScheduler}), or for whether to go upstream.
 */
final class HolderChoice {
  private HolderChoice() {}

  /**
   * The rendezvous score of {@code node} for the piece whose last byte is {@code key}: a 64-bit mix of the node id's
   * {@link String#hashCode} and the key, the same in every JVM.
   */
  static long score(String node, long key) {
    long z = key * 0x9E3779B97F4A7C15L + node.hashCode() * 0xC2B2AE3D27D4EB4FL;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** Whether {@code a} outranks {@code b} for {@code key} (ties, unlikely, by node id). */
  private static boolean outranks(String a, String b, long key) {
    long sa = score(a, key);
    long sb = score(b, key);
    return sa != sb ? Long.compareUnsigned(sa, sb) > 0 : a.compareTo(b) > 0;
  }

  /**
   * The relay for the piece {@code [first, last]}: {@code self}, or the partial holder (not {@code fetcher}, not a
   * complete holder) with the highest score for {@code last}.
   */
  static String relay(String self, List<PeerNetwork.Holder> holders, String fetcher, long last) {
    String best = self;
    for (PeerNetwork.Holder h : holders) {
      if (h.done() != null && !h.node().equals(fetcher) && !h.node().equals(self) && outranks(h.node(), best, last)) {
        best = h.node();
      }
    }
    return best;
  }

  /**
   * Among {@code holders} that have every byte of {@code [first, last]} and are not {@code fetcher}, and that
   * {@code room} allows, the one with the highest score of {@code self} and the holder for the piece: random, but the
   * same every time this node asks; null when none.
   *
   * <p>Not the least busy on this download: each node sees only its own lanes, so every node would pick the same
   * idle holder (a node that just completed the blob, the fetcher most of all) and pile onto its uplink.
   */
  static String holder(String self, long first, long last, List<PeerNetwork.Holder> holders, String fetcher,
      java.util.function.Predicate<String> room) {
    String best = null;
    long bestScore = 0;
    for (PeerNetwork.Holder h : holders) {
      String n = h.node();
      if (n.equals(fetcher) || !h.has(first, last) || !room.test(n)) {
        continue;
      }
      long s = score(self + " " + n, last);
      if (best == null || Long.compareUnsigned(s, bestScore) > 0) {
        best = n;
        bestScore = s;
      }
    }
    return best;
  }
}
