package io.pullmesh.fetch;

import java.util.List;

/**
 * Chooses where a piece comes from, under the lane limits ({@link Lanes}); which peer, among several that could serve
 * it, is {@link HolderChoice}'s decision. In order:
 *
 * <ol>
 *   <li>a peer that has the piece's bytes already and is not the upstream fetcher;
 *   <li>for a node that fetches the blob from upstream: upstream (once located);
 *   <li>for any other node, while a peer fetches the blob from upstream: the piece's relay (a partial holder that
 *       streams it from the fetcher as it arrives), or, when this node is the relay, the fetcher itself, whose partial
 *       copy streams the bytes as they arrive from upstream (up to the download's whole lane budget);
 *   <li>with no fetcher left: a peer that has the bytes, even one that was the fetcher.
 * </ol>
 *
 * A relay at its lane limit is waited for (no source yet), not bypassed: going to the fetcher instead would send the
 * piece over the fetcher's uplink twice, which is what makes a mesh a star. A pure function: it opens nothing and
 * changes no count (the download takes the lane).
 */
final class SourcePicker {
  private SourcePicker() {}

  /**
   * @param first the first byte of the piece still missing
   * @param last the piece's last byte
   * @param self this node's id
   * @param holders peers with a copy of the blob (complete or partial)
   * @param streamer the peer fetching the blob from upstream now, or null
   * @param selfFetches whether this node fetches the blob from upstream (always, for a node alone)
   * @param upstreamLocated whether this node has found the blob upstream
   */
  static Source pick(long first, long last, String self, List<PeerNetwork.Holder> holders, String streamer, Lanes lanes,
      boolean selfFetches, boolean upstreamLocated) {
    String holder = HolderChoice.holder(self, first, last, holders, streamer, n -> lanes.peerHasRoom(n, false));
    if (holder != null) {
      return new Source.Peer(holder);
    }
    if (selfFetches) {
      return upstreamLocated ? Source.UPSTREAM : new Source.None(true);
    }
    PeerNetwork.Holder fetcher = streamer == null ? null : PeerNetwork.Holder.of(holders, streamer);
    if (fetcher == null) {
      return new Source.None(false);
    }
    String relay = HolderChoice.relay(self, holders, streamer, last);
    if (!relay.equals(self)) {
      return lanes.peerHasRoom(relay, false) ? new Source.Peer(relay) : new Source.None(false);
    }
    return lanes.peerHasRoom(streamer, !fetcher.has(first, last)) ? new Source.Peer(streamer) : new Source.None(false);
  }
}
