package io.pullmesh.fetch;

import io.pullmesh.core.PieceLayout;
import io.vertx.core.Future;
import java.util.BitSet;

/**
 * The mesh's part of one download: where it starts (peers or upstream), which peer serves a piece, what this node
 * tells the mesh as pieces arrive, and the takeover when the peer fetching from upstream goes away. {@link #ALONE} is
 * the twin for a node without a mesh, so the download has no branch for it. Not for opening ranges on a peer's
 * behalf or for serving peers (the peer API does that).
 */
interface MeshTie {
  /** Where a download starts. */
  sealed interface Start {
    /**
     * From peers that hold the blob, or stream it from upstream.
     *
     * @param pieceSize the piece size of the published hash list to cut the file in, or 0 to choose one
     */
    record FromPeers(long size, int pieceSize) implements Start {}

    /** From upstream: this node fetches the blob (it claimed it mesh-wide, or runs alone). */
    record FromUpstream() implements Start {}
  }

  /** Decides where to start; {@code changed} is run (never under a lock) whenever what the mesh offers changed. */
  Future<Start> start(Runnable changed);

  /** Whether this node fetches the blob from upstream now (always, alone). */
  boolean selfFetches();

  /** The source for the bytes {@code [first, last]} of a piece, given the lanes open now. */
  Source pick(long first, long last, Lanes lanes, boolean upstreamLocated);

  /** Whether {@code node} has every byte of {@code [first, last]} already, as far as this download knows. */
  boolean holds(String node, long first, long last);

  /** Opens ranges on {@code node}. */
  RangeSource peer(String node);

  /** The published per-piece hash list, when one fits {@code layout}; null otherwise. */
  PeerNetwork.PieceHashes checkList(PieceLayout layout);

  /** Every so often while fetching: tells the mesh which pieces are done, looks again at it, takes over when needed. */
  void tick(PieceLayout layout, BitSet done, java.util.function.Supplier<java.util.List<io.pullmesh.core.ByteRange>> missing);

  /** Whether {@link #tick} has work: false for a node alone. */
  boolean ticks();

  /** A lane to {@code node} ended well. */
  void peerServed(String node);

  /** A lane to {@code node} failed; returns what to do. */
  RetryPolicy.Action peerFailed(String node, UpstreamException error, String what);

  /** {@code node} sent bytes that did not match their piece hash: penalised, and dropped from this download's view. */
  void sentCorrupt(String node, String what);

  /**
   * The blob is committed: announce it, and publish its piece hashes (made by {@code hashes}, on {@code io}) when this
   * node is the one to: it fetched from upstream, or only from complete holders, and checked against no list.
   */
  void committed(long size, boolean checkedAgainstAList, boolean fetchedFromUpstream,
      java.util.function.Supplier<PeerNetwork.PieceHashes> hashes, java.util.concurrent.Executor io);

  /** The download failed: drop its progress and claim. */
  void failed();

  /** A node without a mesh: everything from upstream, nothing to tell. */
  MeshTie ALONE = new MeshTie() {
    @Override
    public Future<Start> start(Runnable changed) {
      return Future.succeededFuture(new Start.FromUpstream());
    }

    @Override
    public boolean selfFetches() {
      return true;
    }

    @Override
    public Source pick(long first, long last, Lanes lanes, boolean upstreamLocated) {
      return upstreamLocated ? Source.UPSTREAM : new Source.None(true);
    }

    @Override
    public boolean holds(String node, long first, long last) {
      return false;
    }

    @Override
    public RangeSource peer(String node) {
      throw new IllegalStateException("a node alone has no peer " + node);
    }

    @Override
    public PeerNetwork.PieceHashes checkList(PieceLayout layout) {
      return null;
    }

    @Override
    public void tick(PieceLayout layout, BitSet done, java.util.function.Supplier<java.util.List<io.pullmesh.core.ByteRange>> missing) {}

    @Override
    public boolean ticks() {
      return false;
    }

    @Override
    public void peerServed(String node) {}

    @Override
    public RetryPolicy.Action peerFailed(String node, UpstreamException error, String what) {
      throw new IllegalStateException("a node alone has no peer " + node);
    }

    @Override
    public void sentCorrupt(String node, String what) {}

    @Override
    public void committed(long size, boolean checkedAgainstAList, boolean fetchedFromUpstream,
        java.util.function.Supplier<PeerNetwork.PieceHashes> hashes, java.util.concurrent.Executor io) {}

    @Override
    public void failed() {}
  };
}
