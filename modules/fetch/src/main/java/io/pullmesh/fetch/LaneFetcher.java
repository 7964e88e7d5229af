package io.pullmesh.fetch;

import io.pullmesh.core.ByteRange;
import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.vertx.core.Context;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.logging.Logger;

/**
 * Runs the lanes of one download: starts a lane for the piece readers want soonest ({@link PieceScheduler}) from the
 * source the mesh picks, within the connection budget ({@link Lanes}); carries out what {@link RetryPolicy} says when a
 * lane fails; falls back to one whole-body stream for an upstream without Range; cuts lanes that stall; and, with
 * slow-edge handling on ({@link FetchConfig#tailRace()} above zero), retires lanes that stay far slower than the others
 * (their piece resumes on another connection) and races the slow ones at the tail ({@link TailRace}) within a budget of
 * duplicated bytes. Slow-edge handling is off by default: in a bottleneck shared by all lanes, a WAN link, TCP's
 * unfairness makes flowing lanes look slow and a race spends bytes without gain, as MeshNetnsIT showed at 1.04x upstream
 * bytes. Not for what
 * happens to the bytes once written (the download checks, hashes and commits them) nor for finding the blob
 * ({@link Locating}).
 *
 * <p>Its fields are guarded by the download's lock ({@code guard}), as is the {@link DownloadState} it reads; bodies are
 * cut, and the owner called, outside it.
 */
final class LaneFetcher implements LaneWriter.Target {
  private static final Logger LOG = Logger.getLogger(LaneFetcher.class.getName());
  /** Most lanes one download keeps open to one peer that holds the bytes already. */
  static final int PER_PEER_LANES = 8;

  /** What the lanes tell their download. */
  interface Owner {
    /** Bytes {@code [position, position+length)} are in the file. */
    void written(long position, int length, Source source);

    /** Looks at the mesh again (after a peer failed). */
    void tickMesh();

    void fail(RegistryException e);
  }

  private final Object guard;
  private final DownloadState state;
  private final Readers readers;
  private final Traffic traffic;
  private final Owner owner;
  private final Digest digest;
  private final BlobUpstream upstream;
  private final MeshTie mesh;
  private final Locating locating;
  private final BlobDownload.Kit kit;

  private final Lanes lanes;
  private final Map<LaneWriter, BlobLocation> inflight = new IdentityHashMap<>();
  /**
   * Requests to peers not answered yet: a peer answers a range of its partial copy with its first byte, so until then
   * the lane is here and not in {@link #inflight}.
   */
  private final java.util.Set<Opening> opening = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
  private final SlowLanes slow;
  private boolean rangeMode = true;
  private int streams;

  LaneFetcher(Object guard, DownloadState state, Readers readers, Traffic traffic, Owner owner, Digest digest, BlobUpstream upstream,
      MeshTie mesh, Locating locating, BlobDownload.Kit kit) {
    this.guard = guard;
    this.state = state;
    this.readers = readers;
    this.traffic = traffic;
    this.owner = owner;
    this.digest = digest;
    this.upstream = upstream;
    this.mesh = mesh;
    this.locating = locating;
    this.kit = kit;
    this.lanes = new Lanes(kit.config().connections(), PER_PEER_LANES);
    this.slow = new SlowLanes(guard, kit.config());
  }

  /** Lanes in use; under the lock. */
  int inUse() {
    return lanes.inUse();
  }

  /** Lanes open to {@code node}; under the lock. */
  int toPeer(String node) {
    return lanes.toPeer(node);
  }

  /** Whether a reader waiting at {@code piece} should start a lane for it; under the lock. */
  boolean idle(int piece) {
    return !state.table().isTaken(piece) && lanes.hasRoom();
  }

  /** Whether pieces are fetched by ranges (not as one stream); under the lock. */
  boolean ranged() {
    return rangeMode;
  }

  /**
   * The partial file is open at {@code loc}: lanes are ranged, or not at all when the upstream ignores Range. Under the
   * lock, before any reader can ask for a lane (a reader's pump must not start ranged lanes on such an upstream).
   */
  void opened(BlobLocation loc) {
    assert Thread.holdsLock(guard);
    rangeMode = loc.rangeSupported();
  }

  /** Starts fetching at {@code loc}: lanes, or one stream when the upstream ignores Range. */
  void begin(BlobLocation loc) {
    if (loc.rangeSupported()) {
      pump();
      return;
    }
    kit.metrics().rangeFallback();
    startStream();
  }

  /** Starts lanes on free connections for the pieces most wanted, each from the source the mesh picks. */
  void pump() {
    List<Object[]> start = new ArrayList<>();
    List<LaneWriter> move = new ArrayList<>();
    boolean locate = false;
    synchronized (guard) {
      if (!state.fetching() || !rangeMode || locating.relocating()) {
        return;
      }
      if (mesh.selfFetches()) {
        // a node that took the upstream fetch over may have lanes waiting on a relay for bytes the relay now waits on
        // this node for: a loop only the stall timeout would break. They are cut, not counted against the peer, and
        // their pieces go on from the bytes already written
        for (LaneWriter w : inflight.keySet()) {
          if (w.piece >= 0 && w.source instanceof Source.Peer peer && waitsInVain(w.piece, peer)) {
            move.add(w); // cut once: a lane cut already ignores another cut
          }
        }
        // and so may requests the relay has not answered yet (it answers with its first byte): the piece stays taken by
        // them, so this node would never fetch it. They are given up at once, their lane and piece given back; an answer
        // that comes later is cut unread
        for (Opening o : opening) {
          if (!o.abandoned && waitsInVain(o.piece, o.peer)) {
            o.abandoned = true;
            giveBack(o.piece, o.peer);
          }
        }
      }
      state.adoptCheckList(mesh);
      PieceTable table = state.table();
      int[] wanted = readers.cursors();
      BitSet blocked = table.takenCopy();
      int p;
      // while lanes wait for buffer memory, a download opens no more than one: a connection that could only wait paused
      // still holds what its last network reads brought (Netty's read buffers, Vert.x's queue), outside the budget
      boolean crowded = kit.pacer().crowded();
      while (lanes.hasRoom() && (!crowded || lanes.inUse() == 0) && (p = PieceScheduler.next(table.count(), blocked, wanted)) >= 0) {
        blocked.set(p);
        Source s = mesh.pick(table.nextByte(p), table.lastByte(p), lanes, locating.found());
        if (s instanceof Source.None none) {
          locate |= none.locateUpstream();
          continue;
        }
        table.take(p);
        lanes.acquire(s);
        start.add(new Object[] {p, s});
      }
    }
    start.forEach(l -> fetchPiece((Integer) l[0], (Source) l[1]));
    move.forEach(w -> w.cut(tookOver()));
    if (locate) {
      locating.takeOver();
    }
    long now = kit.nanoTime().getAsLong();
    retireSlow(now); // here as well as on the heartbeat, which beats only every quarter of the stall timeout
    raceTail(now);
  }

  /**
   * When every piece is taken and a lane is free, races the slowest upstream lane's piece with a second lane from its
   * first missing byte ({@link TailRace}); the first to finish the piece wins and the other is cut. Its bytes count as
   * upstream bytes like any other.
   */
  void raceTail(long now) {
    int piece;
    BlobLocation loc;
    long from;
    long to;
    if (!slow.on()) {
      return;
    }
    synchronized (guard) {
      PieceTable table = state.fetching() ? state.table() : null;
      if (table == null || !rangeMode || locating.relocating() || !lanes.hasRoom() || !table.allTaken()) {
        return;
      }
      piece = slow.raceNow(upstreamLanes(now, null), now, table);
      if (piece < 0) {
        return;
      }
      lanes.acquire(Source.UPSTREAM);
      loc = locating.location();
      from = table.nextByte(piece);
      to = table.lastByte(piece);
    }
    LOG.fine(() -> "racing a slow lane for piece " + piece + " of " + digest.shortHex() + " from byte " + from);
    upstream.ranges(loc).open(new ByteRange(from, to)).onComplete(ar -> {
      if (ar.failed()) {
        laneEnded(piece, Source.UPSTREAM, ar.cause(), false, loc);
      } else {
        startLane(new LaneWriter(piece, Source.UPSTREAM, from, to, ar.result(), kit.io(), onThisContext(), this, kit.nanoTime(), kit.pacer(), guard), loc);
      }
    });
  }

  /** The upstream lanes fetching pieces now that no cap holds back, as {@link TailRace} sees them; by piece into {@code byPiece} if given. Under the lock. */
  private List<TailRace.Lane> upstreamLanes(long now, Map<Integer, LaneWriter> byPiece) {
    assert Thread.holdsLock(guard);
    PieceTable table = state.table();
    List<TailRace.Lane> views = new ArrayList<>();
    for (LaneWriter w : inflight.keySet()) {
      // a lane held back by the upstream cap or the buffer budget is slow by our doing: racing or retiring it gains nothing
      if (w.piece >= 0 && w.source instanceof Source.Upstream && !table.isDone(w.piece) && !w.capped() && !w.held()) {
        views.add(new TailRace.Lane(w.piece, w.startedNanos, w.received(), table.lastByte(w.piece) + 1 - table.nextByte(w.piece),
            now - w.lastData()));
        if (byPiece != null) {
          byPiece.put(w.piece, w);
        }
      }
    }
    return views;
  }

  /**
   * With slow-edge handling on, cuts the upstream lane that runs far below this download's typical rate
   * ({@link TailRace#retire}); its piece goes back to the table and resumes from its first missing byte on the next free
   * lane. Not counted as a failed try of the piece.
   */
  void retireSlow(long now) {
    if (!slow.on()) {
      return;
    }
    LaneWriter w;
    synchronized (guard) {
      if (!state.fetching() || !rangeMode || locating.relocating()) {
        return;
      }
      Map<Integer, LaneWriter> byPiece = new java.util.HashMap<>();
      TailRace.Lane l = slow.retireNow(upstreamLanes(now, byPiece), now);
      if (l == null) {
        return;
      }
      w = byPiece.get(l.piece());
    }
    if (w.cut(new HandedBack("slow", "blob " + digest.shortHex() + " piece " + w.piece
        + ": upstream connection far slower than the others; resuming it on another"))) {
      LOG.fine(() -> "retired a slow upstream connection for piece " + w.piece + " of " + digest.shortHex());
    }
  }

  /**
   * Why this download cut one of its own lanes to give its piece to another (a slow connection retired, a lane waiting
   * on a peer for bytes this node now fetches itself): its lane and piece are given back and the piece goes on from its
   * first missing byte, not retried as a failure.
   */
  static final class HandedBack extends RuntimeException {
    /** The retry's label in {@code pullmesh_piece_retries_total}, or null when it is not counted. */
    final String retryReason;

    HandedBack(String retryReason, String message) {
      super(message, null, false, false);
      this.retryReason = retryReason;
    }
  }

  /** The cut of a lane or request to a peer, for bytes this node fetches from upstream now. */
  private HandedBack tookOver() {
    return new HandedBack(null, "blob " + digest.shortHex() + ": this node fetches it from upstream now");
  }

  /**
   * Whether a lane on {@code peer} for {@code piece} waits for bytes the peer lacks, now that this node fetches the blob
   * from upstream: no one else fetches them, and the peer may be waiting on this node for them. Under the lock.
   */
  private boolean waitsInVain(int piece, Source.Peer peer) {
    assert Thread.holdsLock(guard);
    return !mesh.holds(peer.node(), state.table().nextByte(piece), state.table().lastByte(piece));
  }

  /** A request for {@code piece} sent to {@code peer} and not answered yet; guarded by the download's lock. */
  private static final class Opening {
    final int piece;
    final Source.Peer peer;
    /** Given up by {@link #pump} (this node took the fetch over): its lane and piece were given back already. */
    boolean abandoned;

    Opening(int piece, Source.Peer peer) {
      this.piece = piece;
      this.peer = peer;
    }
  }

  /** Cuts the other lanes of a piece that is done (the losers of a race). */
  private void cutLosers(int piece) {
    List<LaneWriter> losers = new ArrayList<>();
    synchronized (guard) {
      if (!slow.raceOver(piece)) {
        return;
      }
      inflight.keySet().stream().filter(w -> w.piece == piece).forEach(losers::add);
    }
    UpstreamException lost = new UpstreamException(UpstreamException.Kind.FATAL, 0, "blob " + digest.shortHex() + " piece " + piece
        + ": another lane finished it first");
    losers.forEach(w -> w.body.cancel(lost));
  }

  /** The lane gives back its connection and its piece. Caller holds the lock. */
  private void giveBack(int piece, Source s) {
    lanes.release(s);
    state.table().release(piece);
  }

  private void fetchPiece(int piece, Source s) {
    BlobLocation loc;
    long from;
    long to;
    Opening o = null;
    synchronized (guard) {
      if (!state.fetching() || !rangeMode) {
        giveBack(piece, s);
        return;
      }
      loc = locating.location();
      from = state.table().nextByte(piece);
      to = state.table().lastByte(piece);
      if (from <= to && s instanceof Source.Peer peer) {
        opening.add(o = new Opening(piece, peer));
      }
    }
    if (from > to) {
      laneEnded(piece, s, null, false, loc);
      return;
    }
    Opening asked = o;
    RangeSource source = s instanceof Source.Peer peer ? mesh.peer(peer.node()) : upstream.ranges(loc);
    source.open(new ByteRange(from, to)).onComplete(ar -> {
      if (asked != null) {
        boolean abandoned;
        synchronized (guard) {
          opening.remove(asked);
          abandoned = asked.abandoned;
        }
        if (abandoned) {
          if (ar.succeeded()) {
            ar.result().cancel(tookOver());
          }
          return;
        }
      }
      if (ar.failed()) {
        laneEnded(piece, s, ar.cause(), false, loc);
      } else {
        startLane(new LaneWriter(piece, s, from, to, ar.result(), kit.io(), onThisContext(), this, kit.nanoTime(), kit.pacer(), guard), loc);
      }
    });
  }

  private Executor onThisContext() {
    Context ctx = kit.vertx().getOrCreateContext();
    return task -> ctx.runOnContext(v -> task.run());
  }

  /** Starts a lane whose body is open, unless the download moved on: then its lane is given back and its body cut, outside the lock. */
  private void startLane(LaneWriter w, BlobLocation used) {
    boolean over;
    synchronized (guard) {
      over = !state.fetching() || (w.piece >= 0 && !rangeMode);
      if (!over) {
        inflight.put(w, used);
      } else if (w.piece >= 0) {
        giveBack(w.piece, w.source);
      }
    }
    if (over) {
      w.body.cancel(new UpstreamException(UpstreamException.Kind.FATAL, 0, "blob " + digest.shortHex() + ": the download moved on"));
    } else {
      LOG.fine(() -> "lane for piece " + w.piece + " of " + digest.shortHex() + " from " + w.source + " started");
      w.start();
      if (slow.on() && w.piece >= 0 && w.source instanceof Source.Upstream) {
        // the lane can first be judged once it is old enough: look then, not only at the next lane event, which in a
        // download's first wave of pieces comes only when the first piece is done (a slow edge retired at 0.99 s, not 0.75)
        kit.timers().once(TailRace.RETIRE_AGE_NANOS / 1_000_000 + 1, () -> retireSlow(kit.nanoTime().getAsLong()));
      }
    }
  }

  /** A lane ended: well, or with {@code error}; carries out what the retry policy says. */
  private void laneEnded(int piece, Source s, Throwable error, boolean progressed, BlobLocation used) {
    if (error == null) {
      cutLosers(piece);
      synchronized (guard) {
        if (s instanceof Source.Upstream) {
          state.table().succeeded(piece);
        }
        giveBack(piece, s);
      }
      if (s instanceof Source.Peer peer) {
        mesh.peerServed(peer.node());
      }
      pump();
      return;
    }
    if (error instanceof HandedBack h) {
      synchronized (guard) {
        giveBack(piece, s);
      }
      if (h.retryReason != null) {
        kit.metrics().pieceRetry(h.retryReason);
      }
      pump();
      return;
    }
    UpstreamException u = UpstreamException.classify(error, "blob " + digest.shortHex() + " piece " + piece);
    if (s instanceof Source.Peer peer) {
      peerLaneFailed(piece, peer, u);
      return;
    }
    RetryPolicy.Action a;
    synchronized (guard) {
      lanes.release(s);
      if (!state.fetching() || !rangeMode) {
        state.table().release(piece);
        return;
      }
      if (state.table().isDone(piece) || state.table().isChecking(piece)) {
        return; // the loser of a race: another lane finished the piece
      }
      if (slow.raceOver(piece) && inflight.keySet().stream().anyMatch(w -> w.piece == piece)) {
        return; // one of two lanes racing for a piece failed: the other goes on with it
      }
      a = kit.retry().afterUpstreamLane(u, RetryPolicy.countsAsTry(u) ? state.table().failedTry(piece, progressed) : 0);
      if (!(a instanceof RetryPolicy.Action.Retry)) {
        state.table().release(piece);
      }
    }
    if (RetryPolicy.countsAsTry(u)) {
      if (u.kind() == UpstreamException.Kind.TIMEOUT) {
        kit.metrics().stall();
      }
      kit.metrics().pieceRetry(RetryPolicy.reason(u));
    }
    if (a instanceof RetryPolicy.Action.Relocate) {
      locating.relocate(u, used);
    } else if (a instanceof RetryPolicy.Action.Stream) {
      fallBackToStream();
    } else if (a instanceof RetryPolicy.Action.Retry r) {
      LOG.fine(() -> u.getMessage() + "; retrying");
      kit.timers().once(r.delayMs(), () -> {
        synchronized (guard) {
          state.table().release(piece);
        }
        pump();
      });
      pump();
    } else {
      owner.fail(toRegistryError(((RetryPolicy.Action.Fail) a).cause()));
    }
  }

  /** A lane to a peer failed: its piece waits a mesh tick and goes to whichever source has it then. */
  private void peerLaneFailed(int piece, Source.Peer peer, UpstreamException u) {
    synchronized (guard) {
      lanes.release(peer);
    }
    LOG.fine(() -> "peer " + peer.node() + " failed piece " + piece + " of " + digest.shortHex() + ": " + u.getMessage());
    kit.metrics().peerPieceFailure(peer.node(), "error");
    mesh.peerFailed(peer.node(), u, digest.shortHex());
    kit.timers().once(PeerMeshTie.TICK_MS, () -> {
      synchronized (guard) {
        state.table().release(piece);
      }
      owner.tickMesh();
    });
  }

  /** Cuts every lane and fetches the blob as one stream from byte 0. */
  void fallBackToStream() {
    List<LaneWriter> cancel;
    synchronized (guard) {
      if (!rangeMode || !state.fetching()) {
        return;
      }
      rangeMode = false;
      cancel = new ArrayList<>(inflight.keySet());
    }
    kit.metrics().rangeFallback();
    LOG.warning(() -> "upstream ignores Range for " + digest + "; falling back to one stream");
    UpstreamException why = new UpstreamException(UpstreamException.Kind.RANGE_IGNORED, 0, "falling back to one stream");
    cancel.forEach(w -> w.body.cancel(why));
    startStream();
  }

  /** One whole-body GET, for upstreams without Range support; restarts from byte 0 on failure. */
  private void startStream() {
    BlobLocation loc;
    synchronized (guard) {
      if (!state.fetching()) {
        return;
      }
      loc = locating.location();
      streams++;
    }
    upstream.whole(loc).onComplete(ar -> {
      if (ar.failed()) {
        streamEnded(ar.cause());
      } else {
        startLane(new LaneWriter(-1, Source.UPSTREAM, 0, loc.size() - 1, ar.result(), kit.io(), onThisContext(), this, kit.nanoTime(), kit.pacer(), guard), loc);
      }
    });
  }

  private void streamEnded(Throwable error) {
    int tries;
    synchronized (guard) {
      if (!state.fetching() || (error == null && state.table().complete())) {
        return;
      }
      tries = streams;
    }
    String what = "blob " + digest.shortHex();
    RetryPolicy.Action a = kit.retry().afterStream(error == null ? null : UpstreamException.classify(error, what), tries, what);
    if (a instanceof RetryPolicy.Action.Retry r) {
      kit.metrics().pieceRetry(r.reason());
      kit.timers().once(r.delayMs(), this::startStream);
    } else {
      owner.fail(toRegistryError(((RetryPolicy.Action.Fail) a).cause()));
    }
  }

  /**
   * Vert.x's request idle timeout only covers the wait for response headers, so a body that stops arriving would hang its
   * piece forever: a lane that delivered nothing for {@code stallNanos} is cut, and its piece retried from its last byte.
   * A lane the node's {@link LanePacer} holds is not stalled, and its quiet time counts from when it was let go.
   */
  void cutStalled(long now, long stallNanos) {
    List<LaneWriter> stuck = new ArrayList<>();
    synchronized (guard) {
      // a lane the pacer holds (the upstream cap, the memory budget) is quiet by our doing, not its source's
      inflight.keySet().stream().filter(w -> now - w.lastData() > stallNanos && !w.held()).forEach(stuck::add);
    }
    UpstreamException why = new UpstreamException(UpstreamException.Kind.TIMEOUT, 0,
        "blob " + digest.shortHex() + ": no data from upstream for " + stallNanos / 1_000_000 + " ms");
    for (LaneWriter w : stuck) {
      if (w.cut(why)) {
        LOG.fine(() -> "upstream connection for " + digest.shortHex() + " stalled; closing it");
      }
    }
  }

  /** Takes every lane to cut (the download ended); under the lock. Cut them outside it. */
  List<Body> drain() {
    assert Thread.holdsLock(guard);
    List<Body> out = new ArrayList<>();
    inflight.keySet().forEach(w -> out.add(w.body));
    inflight.clear();
    return out;
  }

  @Override
  public void write(ByteBuffer bytes, long position) throws IOException {
    PartialWriter w;
    synchronized (guard) {
      w = state.writer();
    }
    w.writeFully(bytes, position);
  }

  @Override
  public void arrived(Source source, int bytes) {
    traffic.arrived(source, bytes);
  }

  @Override
  public void written(long position, int length, Source source) {
    owner.written(position, length, source);
  }

  @Override
  public void writeFailed(IOException e) {
    ErrorCode code = StorageErrors.code(e);
    owner.fail(new RegistryException(code, "writing " + digest.shortHex() + " to the cache failed: " + e.getMessage()
        + (code == ErrorCode.INSUFFICIENT_STORAGE ? " (nothing more could be evicted; what was fetched is kept and the next request resumes it)" : ""), e));
  }

  @Override
  public void ended(LaneWriter lane, Throwable error) {
    BlobLocation used;
    synchronized (guard) {
      used = inflight.remove(lane);
    }
    if (lane.piece < 0) {
      streamEnded(error);
      return;
    }
    LOG.fine(() -> "lane for piece " + lane.piece + " of " + digest.shortHex() + " from " + lane.source + " ended after "
        + (kit.nanoTime().getAsLong() - lane.startedNanos) / 1_000_000 + " ms, " + lane.received() + " bytes"
        + (error == null ? "" : ": " + error.getMessage()));
    if (error == null && lane.complete() && lane.source instanceof Source.Upstream && !lane.capped()) {
      long took = kit.nanoTime().getAsLong() - lane.startedNanos;
      synchronized (guard) {
        slow.finished(lane.received(), took);
      }
    }
    Throwable err = error != null || lane.complete() ? error : new UpstreamException(UpstreamException.Kind.RETRYABLE, 206,
        "blob " + digest.shortHex() + " piece " + lane.piece + ": upstream body ended " + lane.missingBytes() + " bytes short");
    laneEnded(lane.piece, lane.source, err, lane.wroteAny(), used);
  }

  private RegistryException toRegistryError(Throwable t) {
    return UpstreamException.toRegistryError(t, "blob " + digest.shortHex(), ErrorCode.BLOB_UNKNOWN);
  }
}
