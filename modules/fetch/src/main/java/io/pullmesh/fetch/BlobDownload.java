package io.pullmesh.fetch;

import io.pullmesh.core.ByteRange;
import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.PieceLayout;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.metrics.MetricsRecorder;
import io.pullmesh.store.BlobRecord;
import io.pullmesh.store.PartialFiles;
import io.pullmesh.store.PartialFile;
import io.pullmesh.store.PartialRecord;
import io.pullmesh.store.SpaceManager;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The one download of one blob: the state machine that wires its parts. Created and started by {@link DownloadManager},
 * which guarantees there is at most one per digest in this process.
 *
 * <p>The blob is located upstream (or its size learned from the mesh, {@link MeshTie}), a sparse partial file of its size
 * is opened ({@link PartialFile}) and cut into pieces ({@link PieceTable}). Up to {@link FetchConfig#connections()}
 * lanes ({@link Lanes}) each fetch a piece with one ranged request ({@link RangeSource}) from the source
 * {@link SourcePicker} chose; the next piece is the one readers need soonest ({@link PieceScheduler}). A lane streams its
 * body into the file ({@link LaneWriter}), waking the {@link Readers} waiting on the bytes, so any range is served while
 * the blob arrives. When a lane fails, {@link RetryPolicy} says what to do: retry after a backoff, re-resolve an expired
 * CDN URL, fall back to one whole-body stream, ask a peer later, or fail. The done prefix is hashed as it grows
 * ({@link PrefixHasher}); when the last piece lands and the hash matches, the file is committed. On a mismatch it is
 * discarded and every reader fails, so no client ever sees a clean end of a body whose bytes were not verified (the proxy
 * holds back each response's last bytes until {@link #verified()} succeeds).
 *
 * <p>Thread-safety: state is guarded by {@code this}, and so are the parts given {@code this} as their guard (they
 * assert it); nothing is called out under the lock (bodies cut, promises completed, readers woken, timers cancelled).
 * Files are written, read and hashed on the kit's {@code io} executor; HTTP runs on Vert.x event loops; reads are
 * delivered on the reader's own context.
 */
public final class BlobDownload {
  private static final Logger LOG = Logger.getLogger(BlobDownload.class.getName());
  /** Most lanes one download keeps open to one peer that holds the bytes already. */
  static final int PER_PEER_LANES = 8;
  /** How often the piece map of a running download is made durable. */
  static final long PERSIST_INTERVAL_MS = 1000;

  /** Where a download is in its life. */
  public enum State { LOCATING, FETCHING, VERIFYING, COMMITTED, FAILED }

  /** A client reading the blob while it downloads. Use from one Vert.x context. */
  public interface Reader {
    /**
     * Reads up to {@code max} bytes at {@code position}, waiting until at least one is there.
     *
     * @return completes on the caller's context with 1 to {@code max} bytes, which the caller must
     *     {@linkplain Chunk#release() release}; fails with the download's {@link RegistryException} if it failed
     */
    Future<Chunk> read(long position, int max);

    /** Stops reading; the download goes on (other clients and the cache want it). */
    void close();
  }

  /** What every download of a node shares: where it runs, stores and counts, its clock and its policy. */
  record Kit(Vertx vertx, PartialFiles files, SpaceManager space, Executor io, Timers timers, LongSupplier nanoTime, Clock clock,
      MetricsRecorder metrics, FetchConfig config, RetryPolicy retry) {}

  private final Digest digest;
  private final RepositoryName repository;
  private final String userAgent;
  private final BlobUpstream upstream;
  private final MeshTie mesh;
  private final Kit kit;
  private final Promise<Long> ready = Promise.promise();
  private final Promise<Void> verified = Promise.promise();
  private final Promise<BlobRecord> completion = Promise.promise();

  // guarded by this
  private State state = State.LOCATING;
  private RegistryException failure;
  private BlobLocation location;
  private boolean upstreamLocated;
  private boolean locating;
  private boolean relocating;
  private int relocations;
  private boolean rangeMode = true;
  private int streams;
  private PieceTable table;
  private PartialFile partial;
  private PeerNetwork.PieceHashes checkList;
  private final Lanes lanes;
  private final Map<LaneWriter, BlobLocation> inflight = new IdentityHashMap<>();
  private final List<Long> timerIds = new ArrayList<>();
  private final PrefixHasher hasher = new PrefixHasher(this);
  private final PieceRecorder recorder = new PieceRecorder(this);
  private final RateMeter rate = new RateMeter();
  private final Readers readers;
  private long startedAt;
  private long upstreamBytes;
  private long peerBytes;

  /** @param userAgent the User-Agent of the client whose request started the download (sent upstream), or null */
  BlobDownload(Digest digest, RepositoryName repository, String userAgent, BlobUpstream upstream, MeshTie mesh, Kit kit) {
    this.digest = digest;
    this.repository = repository;
    this.userAgent = userAgent;
    this.upstream = upstream;
    this.mesh = mesh;
    this.kit = kit;
    this.lanes = new Lanes(kit.config().connections(), PER_PEER_LANES);
    this.readers = new Readers(this, new ReadersView(), digest, kit.vertx(), kit.io());
  }

  public Digest digest() {
    return digest;
  }

  public RepositoryName repository() {
    return repository;
  }

  /** The User-Agent of the client whose request started this download, or null for the configured one. */
  String userAgent() {
    return userAgent;
  }

  /** Succeeds with the blob size once the partial file exists and readers can attach; fails like {@link #completion()}. */
  public Future<Long> ready() {
    return ready.future();
  }

  /**
   * Succeeds when the blob was verified and committed; fails with a {@link RegistryException}: BLOB_UNKNOWN (404)
   * when upstream has no such blob, BLOB_CORRUPT (502) when its bytes do not match the digest, UPSTREAM_ERROR
   * (502) or UPSTREAM_TIMEOUT (504) when upstream kept failing, DENIED (403), INSUFFICIENT_STORAGE (507) or
   * INTERNAL_ERROR (500) for local failures.
   */
  public Future<BlobRecord> completion() {
    return completion.future();
  }

  /** Succeeds as soon as the whole blob's SHA-256 matched its digest, before it is committed: what a response needs before it may end. */
  public Future<Void> verified() {
    return verified.future();
  }

  public synchronized State state() {
    return state;
  }

  /** Size in bytes; only meaningful once {@link #ready()} succeeded. */
  public synchronized long size() {
    return table == null ? -1 : table.layout().size();
  }

  /** Epoch ms when the download started. */
  public synchronized long startedAt() {
    return startedAt;
  }

  /** Lanes (connections to upstream or peers) in use now. */
  public synchronized int connections() {
    return lanes.inUse();
  }

  /** Lanes open to {@code node} now. */
  synchronized int connectionsTo(String node) {
    return lanes.toPeer(node);
  }

  /** Clients reading it now. */
  public synchronized int readerCount() {
    return readers.count();
  }

  /** Where the bytes come from: the upstream host serving them (the CDN after the registry's redirect). */
  public synchronized String source() {
    return upstream.host(location);
  }

  /** Bytes per second over the last few seconds. */
  public synchronized long rateBytesPerSecond() {
    return rate.bytesPerSecond();
  }

  /** Bytes of the blob written so far (for progress reporting). */
  public synchronized long bytesDone() {
    return table == null ? 0 : table.bytesDone();
  }

  /** Bytes of this blob fetched from peers so far. */
  public synchronized long peerBytes() {
    return peerBytes;
  }

  private record Opened(BlobLocation location, PartialFile file, PartialRecord resumed) {}

  /** Starts the download; {@code known} is a location found moments ago (by a HEAD), or null. */
  void start(BlobLocation known) {
    synchronized (this) {
      startedAt = kit.clock().millis();
    }
    mesh.start(this::pump).onComplete(ar -> {
      if (ar.result() instanceof MeshTie.Start.FromPeers p) {
        begin(Future.succeededFuture(upstream.sizeOnly(p.size())), false, p.pieceSize());
      } else {
        begin(known != null ? Future.succeededFuture(known) : locateWithRetry(1), true, 0);
      }
    });
  }

  /** Opens the partial file once the blob's size is known and starts fetching; {@code pieceSize} 0 chooses one. */
  private void begin(Future<BlobLocation> located, boolean fromUpstream, int pieceSize) {
    located.compose(loc -> kit.vertx().executeBlocking(() -> open(loc, pieceSize), false)).onComplete(ar -> {
      if (ar.failed()) {
        fail(toRegistryError(ar.cause()));
        return;
      }
      Opened o = ar.result();
      BlobLocation loc = o.location();
      synchronized (this) {
        if (state != State.LOCATING) {
          o.file().close();
          return;
        }
        location = loc;
        upstreamLocated = fromUpstream;
        partial = o.file();
        table = new PieceTable(this, o.resumed() != null ? new PieceLayout(loc.size(), o.resumed().pieceSize()) : layoutFor(loc.size(), pieceSize));
        adoptCheckList();
        if (o.resumed() != null) {
          table.resume(o.resumed());
          recorder.resumedFrom(table);
        }
        state = State.FETCHING;
        rangeMode = loc.rangeSupported();
      }
      if (o.resumed() != null) {
        LOG.info(() -> "resuming " + digest + ": " + o.resumed().done().cardinality() + " of " + o.resumed().done().length() + " pieces already on disk");
      }
      LOG.fine(() -> "fetching " + digest + " (" + loc.size() + " bytes) from " + (fromUpstream ? loc.safeUrl() : "peers"));
      startTimers();
      ready.tryComplete(loc.size());
      if (!loc.rangeSupported()) {
        kit.metrics().rangeFallback();
        startStream();
      } else {
        pump();
      }
      kickHasher();
    });
  }

  private PieceLayout layoutFor(long size, int pieceSize) {
    FetchConfig c = kit.config();
    return pieceSize > 0 ? new PieceLayout(size, pieceSize) : PieceLayout.choose(size, c.connections(), c.minPieceSize(), c.maxPieceSize());
  }

  /** Reopens a resumable partial file of the right size, or creates a new one. Blocking. */
  private Opened open(BlobLocation loc, int pieceSize) {
    Optional<PartialRecord> had = kit.files().partial(digest).filter(r -> r.size() == loc.size() && loc.rangeSupported());
    // reserved against the limit and the disk before the first body byte: a blob that cannot fit is a 507 now, not a
    // 200 that breaks (issue 18); a resumed download needs room only for what it lacks
    kit.space().reserve(digest, loc.size(), had.map(PartialRecord::bytesOnDisk).orElse(0L));
    try {
      return had.isPresent() ? new Opened(loc, kit.files().resumePartial(had.get()), had.get())
          : new Opened(loc, kit.files().createPartial(digest, loc.size(), repository, layoutFor(loc.size(), pieceSize).pieceSize()), null);
    } catch (IOException e) {
      throw new RegistryException(StorageErrors.code(e), "blob " + digest + ": the cache cannot store it: " + e.getMessage(), e);
    }
  }

  /** Checks pieces on arrival against the mesh's piece hashes once a list that fits this layout is published. */
  private void adoptCheckList() {
    if (checkList == null && (checkList = mesh.checkList(table.layout())) != null) {
      table.requireChecks();
    }
  }

  private Future<BlobLocation> locateWithRetry(int attempt) {
    return upstream.locate().recover(t -> {
      UpstreamException u = UpstreamException.classify(t, "blob " + digest.shortHex());
      if (!(kit.retry().afterLocate(u, attempt) instanceof RetryPolicy.Action.Retry r)) {
        return Future.failedFuture(u);
      }
      kit.metrics().pieceRetry(r.reason());
      Promise<BlobLocation> p = Promise.promise();
      kit.timers().once(r.delayMs(), () -> locateWithRetry(attempt + 1).onComplete(p));
      return p.future();
    });
  }

  /** Starts lanes on free connections for the pieces most wanted, each from the source the picker chose. */
  private void pump() {
    List<Object[]> start = new ArrayList<>();
    boolean locate = false;
    synchronized (this) {
      if (state != State.FETCHING || !rangeMode || relocating) {
        return;
      }
      adoptCheckList();
      int[] wanted = readers.cursors();
      BitSet blocked = table.takenCopy();
      int p;
      while (lanes.hasRoom() && (p = PieceScheduler.next(table.count(), blocked, wanted)) >= 0) {
        blocked.set(p);
        Source s = mesh.pick(table.nextByte(p), table.lastByte(p), lanes, upstreamLocated);
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
    if (locate) {
      locateUpstream();
    }
  }

  /** Finds the blob upstream when this node became the one to fetch it after starting from peers. */
  private void locateUpstream() {
    synchronized (this) {
      if (locating || upstreamLocated || state != State.FETCHING) {
        return;
      }
      locating = true;
    }
    locateWithRetry(1).onComplete(ar -> {
      synchronized (this) {
        locating = false;
      }
      located(ar, false);
    });
  }

  /** The lane's piece gives back its lane and its piece (the download moved on, or the lane ended). Caller holds the lock. */
  private void giveBack(int piece, Source s) {
    lanes.release(s);
    table.release(piece);
  }

  private void fetchPiece(int piece, Source s) {
    BlobLocation loc;
    long from;
    long to;
    synchronized (this) {
      if (state != State.FETCHING || !rangeMode) {
        giveBack(piece, s);
        return;
      }
      loc = location;
      from = table.nextByte(piece);
      to = table.lastByte(piece);
    }
    if (from > to) {
      laneEnded(piece, s, null, false, loc);
      return;
    }
    RangeSource source = s instanceof Source.Peer peer ? mesh.peer(peer.node()) : upstream.ranges(loc);
    source.open(new ByteRange(from, to)).onComplete(ar -> {
      if (ar.failed()) {
        laneEnded(piece, s, ar.cause(), false, loc);
      } else {
        startLane(new LaneWriter(piece, s, from, to, ar.result(), kit.io(), onThisContext(), new LaneTarget(), kit.nanoTime()), loc);
      }
    });
  }

  private Executor onThisContext() {
    Context ctx = kit.vertx().getOrCreateContext();
    return task -> ctx.runOnContext(v -> task.run());
  }

  /** Starts a lane whose body is open, unless the download moved on: then its body is cut, outside the lock, and its lane given back. */
  private void startLane(LaneWriter w, BlobLocation used) {
    boolean over;
    synchronized (this) {
      over = state != State.FETCHING || (w.piece >= 0 && !rangeMode);
      if (!over) {
        inflight.put(w, used);
      } else if (w.piece >= 0) {
        giveBack(w.piece, w.source);
      }
    }
    if (over) {
      w.body.cancel(new UpstreamException(UpstreamException.Kind.FATAL, 0, "blob " + digest.shortHex() + ": the download moved on"));
    } else {
      w.start();
    }
  }

  /** A lane ended: well, or with {@code error}; carries out what the retry policy says. */
  private void laneEnded(int piece, Source s, Throwable error, boolean progressed, BlobLocation used) {
    if (error == null) {
      synchronized (this) {
        if (s instanceof Source.Upstream) {
          table.succeeded(piece);
        }
        giveBack(piece, s);
      }
      if (s instanceof Source.Peer peer) {
        mesh.peerServed(peer.node());
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
    synchronized (this) {
      lanes.release(s);
      if (state != State.FETCHING || !rangeMode) {
        table.release(piece);
        return;
      }
      a = kit.retry().afterUpstreamLane(u, RetryPolicy.countsAsTry(u) ? table.failedTry(piece, progressed) : 0);
      if (!(a instanceof RetryPolicy.Action.Retry)) {
        table.release(piece);
      }
    }
    if (RetryPolicy.countsAsTry(u)) {
      if (u.kind() == UpstreamException.Kind.TIMEOUT) {
        kit.metrics().stall();
      }
      kit.metrics().pieceRetry(RetryPolicy.reason(u));
    }
    if (a instanceof RetryPolicy.Action.Relocate) {
      relocate(u, used);
    } else if (a instanceof RetryPolicy.Action.Stream) {
      fallBackToStream();
    } else if (a instanceof RetryPolicy.Action.Retry r) {
      LOG.fine(() -> u.getMessage() + "; retrying");
      kit.timers().once(r.delayMs(), () -> {
        synchronized (this) {
          table.release(piece);
        }
        pump();
      });
      pump();
    } else {
      fail(toRegistryError(((RetryPolicy.Action.Fail) a).cause()));
    }
  }

  /** A lane to a peer failed: the piece waits a tick and goes to whichever source has it then. */
  private void peerLaneFailed(int piece, Source.Peer peer, UpstreamException u) {
    synchronized (this) {
      lanes.release(peer);
    }
    LOG.fine(() -> "peer " + peer.node() + " failed piece " + piece + " of " + digest.shortHex() + ": " + u.getMessage());
    kit.metrics().peerPieceFailure(peer.node(), "error");
    mesh.peerFailed(peer.node(), u, digest.shortHex());
    kit.timers().once(PeerMeshTie.TICK_MS, () -> {
      synchronized (this) {
        table.release(piece);
      }
      tickMesh();
    });
  }

  /**
   * The CDN refused the URL {@code used}: resolve the blob again (once for all lanes that fail together) and go on. A
   * lane failing on a URL that was already replaced just retries with the new one.
   */
  private void relocate(UpstreamException cause, BlobLocation used) {
    boolean giveUp = false;
    boolean start = false;
    synchronized (this) {
      if (state != State.FETCHING) {
        return;
      }
      if (!relocating && used == location) {
        giveUp = relocations >= kit.config().maxRelocations();
        start = !giveUp;
        relocating = start;
        relocations += start ? 1 : 0;
      }
    }
    if (giveUp) {
      fail(toRegistryError(new UpstreamException(UpstreamException.Kind.RETRYABLE, cause.status(),
          cause.getMessage() + " (re-resolved " + kit.config().maxRelocations() + " times already)", cause)));
      return;
    }
    if (!start) {
      pump();
      return;
    }
    kit.metrics().relocation();
    LOG.info(() -> "re-resolving " + digest + ": " + cause.getMessage());
    locateWithRetry(1).onComplete(ar -> {
      synchronized (this) {
        relocating = false;
      }
      located(ar, true);
    });
  }

  /** A location found again (relocation) or for the first time (takeover from peers): use it, or fail. */
  private void located(io.vertx.core.AsyncResult<BlobLocation> ar, boolean again) {
    RegistryException error = null;
    boolean stream = false;
    synchronized (this) {
      if (ar.failed()) {
        error = toRegistryError(ar.cause());
      } else if (ar.result().size() != table.layout().size()) {
        error = new RegistryException(ErrorCode.UPSTREAM_ERROR, "blob " + digest + ": upstream " + (again ? "now says " : "says ")
            + ar.result().size() + " bytes, " + (again ? "earlier " : "peers ") + table.layout().size());
      } else {
        location = ar.result();
        upstreamLocated = true;
        stream = !again && !location.rangeSupported();
      }
    }
    if (error != null) {
      fail(error);
    } else if (stream) {
      fallBackToStream();
    } else {
      pump();
    }
  }

  private void fallBackToStream() {
    List<LaneWriter> cancel;
    synchronized (this) {
      if (!rangeMode || state != State.FETCHING) {
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
    synchronized (this) {
      if (state != State.FETCHING) {
        return;
      }
      loc = location;
      streams++;
    }
    upstream.whole(loc).onComplete(ar -> {
      if (ar.failed()) {
        streamEnded(ar.cause());
      } else {
        startLane(new LaneWriter(-1, Source.UPSTREAM, 0, loc.size() - 1, ar.result(), kit.io(), onThisContext(), new LaneTarget(), kit.nanoTime()), loc);
      }
    });
  }

  private void streamEnded(Throwable error) {
    int tries;
    synchronized (this) {
      if (state != State.FETCHING || (error == null && table.complete())) {
        return;
      }
      tries = streams;
    }
    RetryPolicy.Action a = kit.retry().afterStream(error == null ? null : UpstreamException.classify(error, "blob " + digest.shortHex()), tries,
        "blob " + digest.shortHex());
    if (a instanceof RetryPolicy.Action.Retry r) {
      kit.metrics().pieceRetry(r.reason());
      kit.timers().once(r.delayMs(), this::startStream);
    } else {
      fail(toRegistryError(((RetryPolicy.Action.Fail) a).cause()));
    }
  }

  /** What a lane writes into and tells. */
  private final class LaneTarget implements LaneWriter.Target {
    @Override
    public void write(java.nio.ByteBuffer bytes, long position) throws IOException {
      PartialWriter w;
      synchronized (BlobDownload.this) {
        w = new PartialWriter(digest, partial, kit.space(), () -> {
          synchronized (BlobDownload.this) {
            return table.layout().size() - table.bytesDone();
          }
        });
      }
      w.writeFully(bytes, position);
    }

    @Override
    public void arrived(Source source, int bytes) {
      if (source instanceof Source.Upstream) {
        kit.metrics().upstreamBytes(upstream.label(), "blob", bytes);
      } else {
        kit.metrics().peerBytes(bytes);
      }
      synchronized (BlobDownload.this) {
        if (source instanceof Source.Upstream) {
          upstreamBytes += bytes;
        } else {
          peerBytes += bytes;
        }
      }
    }

    @Override
    public void written(long position, int length, Source source) {
      onWritten(position, length, source);
    }

    @Override
    public void writeFailed(IOException e) {
      ErrorCode code = StorageErrors.code(e);
      fail(new RegistryException(code, "writing " + digest.shortHex() + " to the cache failed: " + e.getMessage()
          + (code == ErrorCode.INSUFFICIENT_STORAGE ? " (nothing more could be evicted; what was fetched is kept and the next request resumes it)" : ""), e));
    }

    @Override
    public void ended(LaneWriter lane, Throwable error) {
      BlobLocation used;
      synchronized (BlobDownload.this) {
        used = inflight.remove(lane);
      }
      if (lane.piece < 0) {
        streamEnded(error);
        return;
      }
      Throwable err = error != null || lane.complete() ? error : new UpstreamException(UpstreamException.Kind.RETRYABLE, 206,
          "blob " + digest.shortHex() + " piece " + lane.piece + ": upstream body ended " + lane.missingBytes() + " bytes short");
      laneEnded(lane.piece, lane.source, err, lane.wroteAny(), used);
    }
  }

  /** Bytes {@code [pos, pos+len)} are in the file: advance the pieces, wake readers, check or hash what completed. */
  private void onWritten(long pos, int len, Source source) {
    List<Runnable> wake = new ArrayList<>();
    PieceTable.Arrival a;
    synchronized (this) {
      if (state != State.FETCHING) {
        return;
      }
      a = table.wrote(pos, len, source);
      for (int p = table.layout().pieceAt(pos); p <= table.layout().pieceAt(pos + len - 1); p++) {
        wake.addAll(readers.readable(p));
      }
    }
    Readers.wake(wake);
    a.toCheck().forEach(p -> kit.io().execute(() -> checkPiece(p)));
    if (a.newlyDone()) {
      kickHasher();
    }
  }

  /**
   * Checks a piece that just arrived against the published hash list (on the io executor). A piece that matches becomes
   * readable; one that does not is thrown away and fetched again from another source, and a peer that sent it penalised.
   */
  private void checkPiece(int p) {
    PartialFile file;
    PeerNetwork.PieceHashes list;
    PieceLayout layout;
    synchronized (this) {
      if (state != State.FETCHING) {
        return;
      }
      file = partial;
      list = checkList;
      layout = table.layout();
    }
    boolean good;
    try {
      good = PieceHashing.matches(file.channel(), layout, p, list);
    } catch (IOException e) {
      fail(new RegistryException(ErrorCode.INTERNAL_ERROR, "reading back piece " + p + " of " + digest.shortHex() + " failed: " + e.getMessage(), e));
      return;
    }
    String peer;
    boolean mixed;
    int tries;
    List<Runnable> wake;
    synchronized (this) {
      peer = table.peerOf(p);
      mixed = table.mixedOrigin(p);
      tries = table.checked(p, good);
      if (state != State.FETCHING) {
        return;
      }
      wake = good ? readers.readable(p) : List.of();
    }
    if (good) {
      Readers.wake(wake);
      kickHasher();
      return;
    }
    if (peer != null) {
      kit.metrics().peerPieceFailure(peer, "digest");
    } else {
      kit.metrics().digestMismatch(); // upstream sent it (or several sources did): caught early, before any client saw it
    }
    LOG.warning(() -> "piece " + p + " of " + digest + " from " + (peer != null ? "peer " + peer : mixed ? "several sources" : "upstream")
        + " does not match the published piece hash; fetching it again" + (peer != null ? " elsewhere" : ""));
    if (peer != null) {
      mesh.sentCorrupt(peer, digest.shortHex());
    }
    if (tries >= kit.retry().maxTries()) {
      fail(new RegistryException(ErrorCode.BLOB_CORRUPT, "blob " + digest + ": piece " + p + " arrived corrupt "
          + kit.retry().maxTries() + " times; nothing of it was served or kept"));
      return;
    }
    pump();
    tickMesh();
  }

  /** Hashes the done prefix further, or verifies and commits once every byte is hashed. */
  private void kickHasher() {
    long[] range;
    synchronized (this) {
      if (state != State.FETCHING) {
        return;
      }
      range = hasher.claim(table.donePrefix());
      if (range == null) {
        if (!table.complete() || !hasher.finished(table.layout().size())) {
          return;
        }
        state = State.VERIFYING;
      }
    }
    kit.io().execute(range == null ? this::verifyAndCommit : () -> hashRange(range[0], range[1]));
  }

  private void hashRange(long from, long to) {
    FileChannel ch;
    synchronized (this) {
      ch = partial.channel();
    }
    try {
      hasher.hash(ch, from, to);
    } catch (IOException e) {
      synchronized (this) {
        hasher.abandon();
      }
      fail(new RegistryException(ErrorCode.INTERNAL_ERROR, "reading back " + digest.shortHex() + " to hash it failed: " + e.getMessage(), e));
      return;
    }
    synchronized (this) {
      hasher.hashed(to);
    }
    kickHasher();
  }

  private void verifyAndCommit() {
    Digest actual = hasher.digest();
    if (!actual.equals(digest)) {
      kit.metrics().digestMismatch();
      LOG.warning(() -> "digest mismatch for " + digest + ": upstream bytes hash to " + actual + "; discarded");
      fail(new RegistryException(ErrorCode.BLOB_CORRUPT, "blob " + digest + ": the bytes upstream sent hash to " + actual
          + "; they were discarded and never served as complete"));
      return;
    }
    // the bytes are right: responses may end now; flushing them to disk is the cache's business
    verified.tryComplete();
    BlobRecord record;
    try {
      record = partial.commit();
      kit.space().release(digest);
      kit.space().enforce();
    } catch (IOException | RuntimeException e) {
      fail(new RegistryException(e instanceof IOException io ? StorageErrors.code(io) : ErrorCode.INTERNAL_ERROR,
          "committing " + digest.shortHex() + " failed: " + e.getMessage(), e));
      return;
    }
    List<Runnable> wake;
    List<Long> timers;
    long took;
    long fetched;
    long fromPeers;
    boolean close;
    boolean checked;
    PieceLayout layout;
    synchronized (this) {
      state = State.COMMITTED;
      timers = stopTimers();
      wake = readers.all();
      took = kit.clock().millis() - startedAt;
      fetched = upstreamBytes;
      fromPeers = peerBytes;
      close = readers.count() == 0;
      checked = checkList != null;
      layout = table.layout();
    }
    timers.forEach(kit.timers()::cancel);
    kit.metrics().downloadFinished("committed", Duration.ofMillis(took));
    LOG.info(() -> String.format("committed %s (%d bytes) in %d ms, %d bytes from upstream%s", digest, layout.size(), took, fetched,
        mesh.ticks() ? ", " + fromPeers + " from peers" : ""));
    mesh.committed(layout.size(), checked, fetched > 0, () -> {
      try {
        return PieceHashing.of(kit.files().blobPath(digest), layout.size(), layout.pieceSize());
      } catch (IOException e) {
        LOG.fine(() -> "no piece hashes for " + digest.shortHex() + ": " + e); // evicted already, most likely
        return null;
      }
    }, kit.io());
    completion.tryComplete(record);
    Readers.wake(wake);
    if (close) {
      partial.close();
    }
  }

  /** The stall watch, the piece recorder and, in a mesh, the mesh tick (which also says at once that this node has the blob's size). */
  private void startTimers() {
    long period = Math.max(50, kit.config().stallTimeout().toMillis() / 4);
    List<Long> ids = new ArrayList<>();
    ids.add(kit.timers().every(period, this::watch));
    ids.add(kit.timers().every(PERSIST_INTERVAL_MS, () -> kit.io().execute(this::persistPieces)));
    if (mesh.ticks()) {
      ids.add(kit.timers().every(PeerMeshTie.TICK_MS, this::tickMesh));
    }
    boolean over;
    synchronized (this) {
      over = state != State.FETCHING;
      if (!over) {
        timerIds.addAll(ids);
      }
    }
    if (over) {
      ids.forEach(kit.timers()::cancel);
      return;
    }
    tickMesh();
  }

  /** Takes the timers to cancel (outside the lock). Caller holds the lock. */
  private List<Long> stopTimers() {
    List<Long> ids = new ArrayList<>(timerIds);
    timerIds.clear();
    return ids;
  }

  /**
   * Vert.x's request idle timeout only covers the wait for response headers, so a body that stops arriving would hang
   * its piece forever: a lane that delivered nothing for the stall timeout is cut, and its piece retried from its last
   * byte. Also samples the rate.
   */
  private void watch() {
    long now = kit.nanoTime().getAsLong();
    long stallNanos = kit.config().stallTimeout().toNanos();
    List<LaneWriter> stuck = new ArrayList<>();
    synchronized (this) {
      if (state != State.FETCHING) {
        return;
      }
      rate.sample(now, table.bytesDone());
      inflight.keySet().stream().filter(w -> now - w.lastData() > stallNanos).forEach(stuck::add);
    }
    for (LaneWriter w : stuck) {
      if (w.stall(new UpstreamException(UpstreamException.Kind.TIMEOUT, 0,
          "blob " + digest.shortHex() + ": no data from upstream for " + kit.config().stallTimeout().toMillis() + " ms"))) {
        LOG.fine(() -> "upstream connection for " + digest.shortHex() + " stalled; closing it");
      }
    }
  }

  private void tickMesh() {
    BitSet done;
    PieceLayout layout;
    synchronized (this) {
      if (state != State.FETCHING) {
        return;
      }
      done = table.doneCopy();
      layout = table.layout();
    }
    mesh.tick(layout, done, () -> {
      synchronized (this) {
        return table.missing().stream().map(p -> new ByteRange(table.nextByte(p), table.lastByte(p))).toList();
      }
    });
  }

  /**
   * Makes the pieces done so far durable: flushes the partial file, then records them ({@link PieceRecorder} says
   * when). Blocking; on the io executor, or by the manager at shutdown.
   */
  void persistPieces() {
    PieceRecorder.Snapshot s;
    PartialFile file;
    synchronized (this) {
      if (table == null || partial == null || !(state == State.FETCHING || state == State.FAILED) || !rangeMode
          || (s = recorder.take(table)) == null) {
        return;
      }
      file = partial;
    }
    boolean ok = false;
    try {
      file.recordPieces(s.done(), s.prefixes());
      ok = true;
    } catch (IOException | RuntimeException e) {
      LOG.fine(() -> "could not record the pieces of " + digest.shortHex() + ": " + e);
    } finally {
      synchronized (this) {
        recorder.finished(s, ok);
      }
    }
  }

  /** Fails the download (once): cuts its lanes, fails readers, keeps the partial file for a resume or discards it. */
  void fail(RegistryException e) {
    List<Runnable> wake;
    List<LaneWriter> cancel;
    List<Long> timers;
    PartialFile file;
    boolean close;
    synchronized (this) {
      if (state == State.COMMITTED || state == State.FAILED) {
        return;
      }
      state = State.FAILED;
      failure = e;
      timers = stopTimers();
      wake = readers.all();
      cancel = new ArrayList<>(inflight.keySet());
      inflight.clear();
      file = partial;
      close = readers.count() == 0;
    }
    timers.forEach(kit.timers()::cancel);
    LOG.log(e.code() == ErrorCode.BLOB_CORRUPT ? Level.WARNING : Level.INFO, () -> "download of " + digest + " failed: " + e.getMessage());
    kit.metrics().downloadFinished(e.code() == ErrorCode.BLOB_CORRUPT ? "corrupt" : "failed", Duration.ZERO);
    cancel.forEach(w -> w.body.cancel(e));
    ready.tryFail(e);
    verified.tryFail(e);
    Readers.wake(wake);
    mesh.failed();
    boolean keep = StorageErrors.resumable(e);
    // the download counts as over (and the manager lets a new one start) only once its partial file is either recorded
    // for resume or deleted: a new download must not open the file while this one still writes its map
    kit.io().execute(() -> {
      try {
        kit.space().release(digest);
        if (keep) {
          persistPieces();
        } else {
          kit.files().discardPartial(digest);
        }
        if (close && file != null) {
          file.close();
        }
      } finally {
        completion.tryFail(e);
      }
    });
  }

  private RegistryException toRegistryError(Throwable t) {
    return UpstreamException.toRegistryError(t, "blob " + digest.shortHex(), ErrorCode.BLOB_UNKNOWN);
  }

  /** Opens a reader unless the download already ended: null when it was committed (read the committed file instead); throws the failure when it failed. */
  public synchronized Reader tryOpenReader() {
    if (state == State.FAILED) {
      throw failure;
    }
    return state == State.COMMITTED ? null : readers.open();
  }

  /** What the readers see of this download. */
  private final class ReadersView implements Readers.Blob {
    @Override
    public RegistryException failure() {
      return failure;
    }

    @Override
    public long size() {
      return table.layout().size();
    }

    @Override
    public long availableAt(long position) {
      return state == State.COMMITTED || state == State.VERIFYING ? table.layout().size() - position : table.availableAt(position);
    }

    @Override
    public FileChannel channel() {
      return partial.channel();
    }

    @Override
    public boolean idle(int piece) {
      return !table.isTaken(piece) && lanes.hasRoom();
    }

    @Override
    public int pieceAt(long position) {
      return table.layout().pieceAt(position);
    }

    @Override
    public void wanted() {
      pump();
    }

    @Override
    public void lastLeft() {
      PartialFile file;
      synchronized (BlobDownload.this) {
        file = partial;
      }
      kit.io().execute(file::close);
    }

    @Override
    public boolean over() {
      return state == State.COMMITTED || state == State.FAILED;
    }
  }

  @Override
  public String toString() {
    return "BlobDownload[" + digest + ", " + state() + "]";
  }
}
