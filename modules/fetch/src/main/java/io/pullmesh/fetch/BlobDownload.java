package io.pullmesh.fetch;

import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.PieceLayout;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.metrics.MetricsRecorder;
import io.pullmesh.store.BlobRecord;
import io.pullmesh.store.PartialFile;
import io.pullmesh.store.PartialFiles;
import io.pullmesh.store.SpaceManager;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The one download of one blob: the state machine that wires its parts. Created and started by {@link DownloadManager},
 * which guarantees there is at most one per digest in this process.
 *
 * <p>The blob is located upstream ({@link Locating}; or its size is learned from the mesh, {@link MeshTie}), a sparse
 * partial file of its size is opened ({@link PartialFile}) and cut into pieces ({@link PieceTable}). Lanes fetch the
 * pieces readers want soonest, each with one ranged request to the source the mesh picks, and retry as
 * {@link RetryPolicy} says ({@link LaneFetcher}); their bytes are written where they belong and wake the
 * {@link Readers} waiting on them, so any range is served while the blob arrives. {@link Verifier} checks pieces against
 * published hashes and hashes the done prefix; when the whole blob matches its digest the file is committed. On a
 * mismatch it is discarded and every reader fails, so no client ever sees a clean end of a body whose bytes were not
 * verified (the proxy holds back each response's last bytes until {@link #verified()} succeeds).
 *
 * <p>Thread-safety: state is guarded by {@code this}, and so are the parts given {@code this} as their guard (they
 * assert it); nothing is called out under the lock (bodies cut, promises completed, readers woken, timers cancelled).
 * Files are written, read and hashed on the kit's {@code io} executor; HTTP runs on Vert.x event loops; reads are
 * delivered on the reader's own context.
 */
public final class BlobDownload {
  private static final Logger LOG = Logger.getLogger(BlobDownload.class.getName());
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

  /** What every download of a node shares: where it runs, stores and counts, its clock, its policy and its lanes' pacer. */
  record Kit(Vertx vertx, PartialFiles files, SpaceManager space, Executor io, Timers timers, LongSupplier nanoTime, Clock clock,
      MetricsRecorder metrics, FetchConfig config, RetryPolicy retry, LanePacer pacer) {}

  private final Digest digest;
  private final RepositoryName repository;
  private final String userAgent;
  private final BlobUpstream upstream;
  private final MeshTie mesh;
  private final Kit kit;
  private final Traffic traffic;
  private final Promise<Long> ready = Promise.promise();
  private final Promise<Void> verified = Promise.promise();
  private final Promise<BlobRecord> completion = Promise.promise();
  private final DownloadState state = new DownloadState(this);
  private final Readers readers;
  private final Locating locating;
  private final LaneFetcher lanes;
  private final Verifier verifier;
  private final Heartbeat heartbeat;
  private final PieceRecorder recorder = new PieceRecorder(this);
  // guarded by this
  private final RateMeter rate = new RateMeter();
  private long startedAt;

  /** @param userAgent the User-Agent of the client whose request started the download (sent upstream), or null */
  BlobDownload(Digest digest, RepositoryName repository, String userAgent, BlobUpstream upstream, MeshTie mesh, Kit kit) {
    this.digest = digest;
    this.repository = repository;
    this.userAgent = userAgent;
    this.upstream = upstream;
    this.mesh = mesh;
    this.kit = kit;
    this.traffic = new Traffic(kit.metrics(), upstream.label());
    this.heartbeat = new Heartbeat(this, kit.timers());
    Parts parts = new Parts();
    this.readers = new Readers(this, state, parts::idle, parts::pump, parts::lastReaderLeft, digest, kit.vertx(), kit.io());
    this.locating = new Locating(this, state, parts, upstream, digest, kit);
    this.lanes = new LaneFetcher(this, state, readers, traffic, parts, digest, upstream, mesh, locating, kit);
    this.verifier = new Verifier(this, state, readers, parts, digest, mesh, kit);
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
    return state.stage();
  }

  /** Size in bytes; only meaningful once {@link #ready()} succeeded. */
  public synchronized long size() {
    return state.size();
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
    return upstream.host(locating.location());
  }

  /** Bytes per second over the last few seconds. */
  public synchronized long rateBytesPerSecond() {
    return rate.bytesPerSecond();
  }

  /** Bytes of the blob written so far (for progress reporting). */
  public synchronized long bytesDone() {
    return state.table() == null ? 0 : state.table().bytesDone();
  }

  /** Bytes of this blob fetched from peers so far. */
  public long peerBytes() {
    return traffic.fromPeers();
  }

  /** Starts the download; {@code known} is a location found moments ago (by a HEAD), or null. */
  void start(BlobLocation known) {
    synchronized (this) {
      startedAt = kit.clock().millis();
    }
    mesh.start(lanes::pump).onComplete(ar -> {
      if (ar.result() instanceof MeshTie.Start.FromPeers p) {
        begin(Future.succeededFuture(upstream.sizeOnly(p.size())), false, p.pieceSize());
      } else {
        begin(known != null ? Future.succeededFuture(known) : locating.locate(1), true, 0);
      }
    });
  }

  /** Opens the partial file once the blob's size is known and starts fetching; {@code pieceSize} 0 chooses one. */
  private void begin(Future<BlobLocation> located, boolean fromUpstream, int pieceSize) {
    located.compose(loc -> kit.vertx().executeBlocking(() -> PartialOpener.open(kit, digest, repository, loc, pieceSize), false)).onComplete(ar -> {
      if (ar.failed()) {
        fail(UpstreamException.toRegistryError(ar.cause(), "blob " + digest.shortHex(), ErrorCode.BLOB_UNKNOWN));
        return;
      }
      PartialOpener.Opened o = ar.result();
      synchronized (this) {
        if (state.stage() != State.LOCATING) {
          o.file().close();
          return;
        }
        PieceTable table = new PieceTable(this, o.layout());
        if (o.resumed() != null) {
          table.resume(o.resumed());
          recorder.resumedFrom(table);
        }
        locating.opened(o.location(), fromUpstream);
        lanes.opened(o.location());
        state.opened(o.file(), new PartialWriter(digest, o.file(), kit.space(), this, table), table);
        state.adoptCheckList(mesh);
      }
      if (o.resumed() != null) {
        LOG.info(() -> "resuming " + digest + ": " + o.resumed().done().cardinality() + " of " + o.layout().count() + " pieces already on disk");
      }
      LOG.fine(() -> "fetching " + digest + " (" + o.location().size() + " bytes) from " + (fromUpstream ? o.location().safeUrl() : "peers"));
      startTimers();
      ready.tryComplete(o.location().size());
      lanes.begin(o.location());
      verifier.hashFurther();
    });
  }

  /** The stall watch, the piece recorder and, in a mesh, the mesh tick (run once at once: peers learn the size). */
  private void startTimers() {
    if (heartbeat.start(state::fetching, Math.max(50, kit.config().stallTimeout().toMillis() / 4), this::watch, PERSIST_INTERVAL_MS,
        () -> kit.io().execute(this::persistPieces), mesh.ticks() ? this::tickMesh : null)) {
      tickMesh();
    }
  }

  /** Samples the rate, cuts stalled lanes, retires slow ones and races slow ones at the tail. */
  private void watch() {
    long now = kit.nanoTime().getAsLong();
    synchronized (this) {
      if (!state.fetching()) {
        return;
      }
      rate.sample(now, state.table().bytesDone());
    }
    lanes.cutStalled(now, kit.config().stallTimeout().toNanos());
    lanes.retireSlow(now);
    lanes.raceTail(now);
  }

  /** Tells the mesh the pieces done, and looks at it again. */
  private void tickMesh() {
    BitSet done;
    PieceLayout layout;
    synchronized (this) {
      if (!state.fetching()) {
        return;
      }
      done = state.table().doneCopy();
      layout = state.table().layout();
    }
    mesh.tick(layout, done, () -> {
      synchronized (this) {
        return state.table().missingRanges();
      }
    });
  }

  /** Makes the pieces done so far durable, when {@link PieceRecorder} says so. Blocking: the io executor, or the manager at shutdown. */
  void persistPieces() {
    PieceRecorder.Snapshot s;
    PartialFile file;
    synchronized (this) {
      State stage = state.stage();
      if (state.table() == null || !(stage == State.FETCHING || stage == State.FAILED) || !lanes.ranged()
          || (s = recorder.take(state.table())) == null) {
        return;
      }
      file = state.file();
    }
    recorder.write(file, s);
  }

  /** The bytes are right: lets responses end, commits the file, tells the mesh. On the io executor. */
  private void commit() {
    verified.tryComplete();
    PartialFile file;
    PieceLayout layout;
    boolean checked;
    synchronized (this) {
      file = state.file();
      layout = state.table().layout();
      checked = state.checkList() != null;
    }
    BlobRecord record;
    try {
      record = file.commit();
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
    boolean close;
    synchronized (this) {
      state.stage(State.COMMITTED);
      timers = heartbeat.stop();
      wake = readers.all();
      took = kit.clock().millis() - startedAt;
      close = readers.count() == 0;
    }
    heartbeat.cancel(timers);
    long fetched = traffic.fromUpstream();
    kit.metrics().downloadFinished("committed", Duration.ofMillis(took));
    LOG.info(() -> String.format("committed %s (%d bytes) in %d ms, %d bytes from upstream%s", digest, layout.size(), took, fetched,
        mesh.ticks() ? ", " + traffic.fromPeers() + " from peers" : ""));
    mesh.committed(layout.size(), checked, fetched > 0, () -> PieceHashing.ofCommitted(kit.files().blobPath(digest), layout), kit.io());
    completion.tryComplete(record);
    Readers.wake(wake);
    if (close) {
      file.close();
    }
  }

  /** Fails the download (once): cuts its lanes, fails readers, keeps the partial file for a resume or discards it. */
  void fail(RegistryException e) {
    List<Runnable> wake;
    List<Body> cut;
    List<Long> timers;
    PartialFile file;
    boolean close;
    synchronized (this) {
      if (!state.fail(e)) {
        return;
      }
      timers = heartbeat.stop();
      wake = readers.all();
      cut = lanes.drain();
      file = state.file();
      close = readers.count() == 0;
    }
    heartbeat.cancel(timers);
    LOG.log(e.code() == ErrorCode.BLOB_CORRUPT ? Level.WARNING : Level.INFO, () -> "download of " + digest + " failed: " + e.getMessage());
    kit.metrics().downloadFinished(e.code() == ErrorCode.BLOB_CORRUPT ? "corrupt" : "failed", Duration.ZERO);
    cut.forEach(b -> b.cancel(e));
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

  /** Opens a reader unless the download already ended: null when it was committed (read the committed file instead); throws the failure when it failed. */
  public synchronized Reader tryOpenReader() {
    if (state.stage() == State.FAILED) {
      throw state.failure();
    }
    return state.stage() == State.COMMITTED ? null : readers.open();
  }

  @Override
  public String toString() {
    return "BlobDownload[" + digest + ", " + state() + "]";
  }

  /** What the parts tell this download: the one place their callbacks land. */
  private final class Parts implements Locating.Owner, LaneFetcher.Owner, Verifier.Owner {
    @Override
    public void located(boolean stream) {
      if (stream) {
        lanes.fallBackToStream();
      } else {
        lanes.pump();
      }
    }

    @Override
    public void fail(RegistryException e) {
      BlobDownload.this.fail(e);
    }

    @Override
    public void written(long pos, int len, Source source) {
      verifier.written(pos, len, source);
    }

    @Override
    public void tickMesh() {
      BlobDownload.this.tickMesh();
    }

    @Override
    public void verified() {
      commit();
    }

    @Override
    public void refetch() {
      lanes.pump();
      tickMesh();
    }

    boolean idle(int piece) {
      return lanes.idle(piece);
    }

    void pump() {
      lanes.pump();
    }

    void lastReaderLeft() {
      PartialFile file;
      synchronized (BlobDownload.this) {
        file = state.file();
      }
      kit.io().execute(file::close);
    }
  }
}
