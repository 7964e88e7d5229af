package io.pullmesh.fetch;

import java.util.List;

/**
 * Chooses where a piece comes from. Peers that hold its bytes come first (the least busy one, under its lane limit);
 * then, for a node that fetches the blob from upstream, upstream itself (once located); for any other node, the peer
 * fetching the blob from upstream, whose partial copy streams the bytes as they arrive. A pure function: it opens
 * nothing and changes no count (the download takes the lane).
 */
final class SourcePicker {
  private SourcePicker() {}

  /**
   * @param first the first byte of the piece still missing
   * @param last the piece's last byte
   * @param holders peers with a copy of the blob (complete or partial)
   * @param streamer the peer fetching the blob from upstream now, or null
   * @param selfFetches whether this node fetches the blob from upstream (always, for a node alone)
   * @param upstreamLocated whether this node has found the blob upstream
   */
  static Source pick(long first, long last, List<PeerNetwork.Holder> holders, String streamer, Lanes lanes, boolean selfFetches,
      boolean upstreamLocated) {
    String best = null;
    int bestLanes = Integer.MAX_VALUE;
    boolean streamerHolds = false;
    for (PeerNetwork.Holder h : holders) {
      int busy = lanes.toPeer(h.node());
      if (h.has(first, last) && lanes.peerHasRoom(h.node(), false) && busy < bestLanes) {
        best = h.node();
        bestLanes = busy;
      }
      streamerHolds |= h.node().equals(streamer);
    }
    if (best != null) {
      return new Source.Peer(best);
    }
    if (selfFetches) {
      return upstreamLocated ? Source.UPSTREAM : new Source.None(true);
    }
    if (streamerHolds && lanes.peerHasRoom(streamer, true)) {
      return new Source.Peer(streamer);
    }
    return new Source.None(false);
  }
}
