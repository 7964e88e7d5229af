package io.pullmesh.fetch;

import io.pullmesh.core.ByteRange;
import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.PieceLayout;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.metrics.MetricsRecorder;
import io.pullmesh.store.BlobRecord;
import io.pullmesh.store.BlobStore;
import io.pullmesh.store.PartialRecord;
import io.pullmesh.store.SpaceManager;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The one download of one blob. Created and started by {@link DownloadManager}, which guarantees there is at
 * most one per digest in this process.
 *
 * <p>How it works: the blob is located upstream (size, and the CDN URL its registry redirects to), a sparse
 * partial file of its size is created, and it is cut into pieces ({@link PieceLayout}). Up to
 * {@link FetchConfig#connections()} pieces are fetched at once, each with its own ranged GET; the next piece for
 * a free connection is the one readers need soonest ({@link PieceScheduler}). Bytes are written where they
 * belong as they arrive, and readers waiting on them are woken at once, so any range is served while the blob
 * is still arriving. A piece that fails resumes from its last byte after a backoff; a stalled connection is
 * closed by the idle timeout and its piece retried; an expired CDN URL is re-resolved; an upstream that ignores
 * Range gets one whole-body stream instead. Meanwhile the contiguous prefix of finished pieces is hashed with
 * SHA-256; when the last piece lands and the hash matches the digest the file is committed to the
 * {@link BlobStore}. On a mismatch it is discarded, and every reader fails, so no client ever sees a clean end
 * of a body whose bytes were not verified (the proxy holds back each response's last bytes until
 * {@link #completion()} succeeds).
 *
 * <p>Thread-safety: state is guarded by {@code this}; no I/O, promise completion or callback runs under the
 * lock. File writes, reads and hashing run on the injected {@code io} executor; HTTP runs on Vert.x event
 * loops; read results are delivered on the reader's own Vert.x context.
 */
public final class BlobDownload {
  private static final Logger LOG = Logger.getLogger(BlobDownload.class.getName());
  private static final int HASH_CHUNK = 1 << 20;
  /** Bytes a connection may have waiting for the disk before it is paused: bounds heap per download to N MiB. */
  private static final long LANE_HIGH_WATER = 1L << 20;
  private static final long LANE_LOW_WATER = 256L << 10;

  /** Where a download is in its life. */
  public enum State { LOCATING, FETCHING, VERIFYING, COMMITTED, FAILED }

  private final Digest digest;
  private final RepositoryName repository;
  /** The repository's name at its upstream (the same unless a namespace maps to another upstream). */
  private final RepositoryName remote;
  private final Vertx vertx;
  private final UpstreamRegistry upstream;
  private final BlobStore store;
  private final SpaceManager space;
  private final Executor io;
  private final MetricsRecorder metrics;
  private final FetchConfig config;
  private final Backoff backoff;
  private final Clock clock;

  private final Promise<Long> ready = Promise.promise();
  private final Promise<Void> verified = Promise.promise();
  private final Promise<BlobRecord> completion = Promise.promise();

  // guarded by this
  private State state = State.LOCATING;
  private RegistryException failure;
  private BlobLocation location;
  private PieceLayout layout;
  private FileChannel channel;
  private long[] filled;
  private BitSet done;
  private BitSet taken;
  private int[] attempts;
  private int lanes;
  private boolean rangeMode = true;
  private int streamAttempts;
  private boolean relocating;
  private int relocations;
  private boolean hashing;
  private long hashed;
  private final Map<Integer, List<Waiter>> waiters = new HashMap<>();
  private final Map<Reader, Integer> cursors = new IdentityHashMap<>();
  private final Map<HttpClientRequest, Writer> inflight = new IdentityHashMap<>();
  private long watchdog = -1;
  private final ArrayDeque<long[]> rateSamples = new ArrayDeque<>();
  private long persister = -1;
  private BitSet persisted = new BitSet();
  private boolean persisting;
  private int readers;
  private long startedAt;
  private long upstreamBytes;

  // touched only by the single running hash task
  private final MessageDigest sha;

  BlobDownload(Digest digest, RepositoryName repository, RepositoryName remote, Vertx vertx, UpstreamRegistry upstream, BlobStore store,
      SpaceManager space, Executor io, MetricsRecorder metrics, FetchConfig config, Backoff backoff, Clock clock) {
    this.remote = remote;
    this.digest = digest;
    this.repository = repository;
    this.vertx = vertx;
    this.upstream = upstream;
    this.store = store;
    this.space = space;
    this.io = io;
    this.metrics = metrics;
    this.config = config;
    this.backoff = backoff;
    this.clock = clock;
    try {
      this.sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  public Digest digest() {
    return digest;
  }

  public RepositoryName repository() {
    return repository;
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

  /**
   * Succeeds as soon as the whole blob's SHA-256 matched its digest, before it is flushed and committed: what a
   * response needs before it may end. Fails like {@link #completion()} when the blob never verifies.
   */
  public Future<Void> verified() {
    return verified.future();
  }

  public synchronized State state() {
    return state;
  }

  /** Size in bytes; only meaningful once {@link #ready()} succeeded. */
  public synchronized long size() {
    return layout == null ? -1 : layout.size();
  }

  /** Epoch ms when the download started. */
  public synchronized long startedAt() {
    return startedAt;
  }

  /** Upstream connections in use now. */
  public synchronized int connections() {
    return lanes;
  }

  /** Clients reading it now. */
  public synchronized int readerCount() {
    return readers;
  }

  /** Where the bytes come from: the upstream host serving them (the CDN after the registry's redirect). */
  public synchronized String source() {
    return location == null ? upstream.base().getHost() : location.url().getHost();
  }

  /** Bytes per second over the last few seconds. */
  public synchronized long rateBytesPerSecond() {
    if (rateSamples.size() < 2) {
      return 0;
    }
    long[] first = rateSamples.peekFirst();
    long[] last = rateSamples.peekLast();
    long nanos = last[0] - first[0];
    return nanos <= 0 ? 0 : (last[1] - first[1]) * 1_000_000_000L / nanos;
  }

  /** Called by the watchdog tick: remembers (time, bytes) for {@link #rateBytesPerSecond()}, about 5 s worth. */
  private void sampleRate(long now) {
    long doneNow = bytesDone();
    synchronized (this) {
      rateSamples.addLast(new long[] {now, doneNow});
      while (rateSamples.size() > 2 && now - rateSamples.peekFirst()[0] > 5_000_000_000L) {
        rateSamples.pollFirst();
      }
    }
  }

  /** Bytes of the blob written so far (for progress reporting). */
  public synchronized long bytesDone() {
    return bytesDoneLocked();
  }

  private long bytesDoneLocked() {
    if (filled == null) {
      return 0;
    }
    long sum = 0;
    for (long f : filled) {
      sum += f;
    }
    return sum;
  }

  private record Opened(BlobLocation location, FileChannel channel, PartialRecord resumed) {}

  /** Starts the download; {@code known} is a location found moments ago (by a HEAD), or null. */
  void start(BlobLocation known) {
    synchronized (this) {
      startedAt = clock.millis();
    }
    Future<BlobLocation> located = known != null ? Future.succeededFuture(known) : locateWithRetry(1);
    located.compose(loc -> vertx.executeBlocking(() -> open(loc), false)).onComplete(ar -> {
      if (ar.failed()) {
        fail(toRegistryError(ar.cause()));
        return;
      }
      Opened o = ar.result();
      BlobLocation loc = o.location();
      boolean stream;
      int resumedPieces;
      synchronized (this) {
        if (state != State.LOCATING) {
          closeQuietly(o.channel());
          return;
        }
        location = loc;
        channel = o.channel();
        layout = o.resumed() != null ? new PieceLayout(loc.size(), o.resumed().pieceSize())
            : PieceLayout.choose(loc.size(), config.connections(), config.minPieceSize(), config.maxPieceSize());
        int n = layout.count();
        filled = new long[n];
        done = new BitSet(n);
        taken = new BitSet(n);
        attempts = new int[n];
        if (o.resumed() != null) {
          BitSet had = o.resumed().done();
          for (int p = had.nextSetBit(0); p >= 0 && p < n; p = had.nextSetBit(p + 1)) {
            filled[p] = layout.length(p);
            done.set(p);
            taken.set(p);
          }
          persisted = (BitSet) done.clone();
        }
        resumedPieces = done.cardinality();
        state = State.FETCHING;
        rangeMode = loc.rangeSupported();
        stream = !rangeMode;
      }
      if (resumedPieces > 0) {
        LOG.info(() -> "resuming " + digest + ": " + resumedPieces + " of " + layout.count() + " pieces already on disk");
      }
      LOG.fine(() -> "fetching " + digest + " (" + loc.size() + " bytes) from " + loc.safeUrl());
      startWatchdog();
      startPersister();
      ready.tryComplete(loc.size());
      if (stream) {
        metrics.rangeFallback();
        startStream();
      } else {
        pump();
      }
      kickHasher();
    });
  }

  /** Reopens a resumable partial file of the right size, or creates a new one. Blocking. */
  private Opened open(BlobLocation loc) throws IOException {
    space.reserve(digest, loc.size());
    Optional<PartialRecord> had = store.partial(digest).filter(r -> r.size() == loc.size());
    if (had.isPresent() && loc.rangeSupported()) {
      return new Opened(loc, store.reopenPartial(had.get()), had.get());
    }
    int pieceSize = PieceLayout.choose(loc.size(), config.connections(), config.minPieceSize(), config.maxPieceSize()).pieceSize();
    FileChannel ch = store.openPartial(digest, loc.size(), repository, pieceSize);
    return new Opened(loc, ch, null);
  }

  private Future<BlobLocation> locateWithRetry(int attempt) {
    return upstream.locate(remote, digest).recover(t -> {
      UpstreamException u = UpstreamException.classify(t, "blob " + digest.shortHex());
      if (!u.isRetryable() || attempt >= config.maxPieceAttempts()) {
        return Future.failedFuture(u);
      }
      metrics.pieceRetry(u.kind() == UpstreamException.Kind.TIMEOUT ? "timeout" : u.status() > 0 ? "status" : "error");
      Promise<BlobLocation> p = Promise.promise();
      vertx.setTimer(backoff.delay(attempt).toMillis(), id -> locateWithRetry(attempt + 1).onComplete(p));
      return p.future();
    });
  }

  // ---------------------------------------------------------------- scheduling and piece lanes

  private int[] cursorArray() {
    int[] out = new int[cursors.size() + waiters.size()];
    int i = 0;
    for (int c : waiters.keySet()) {
      out[i++] = c;
    }
    for (int c : cursors.values()) {
      out[i++] = c;
    }
    return out;
  }

  /** Starts fetching pieces on free connections, most wanted first. */
  private void pump() {
    List<Integer> start = new ArrayList<>();
    synchronized (this) {
      if (state != State.FETCHING || !rangeMode || relocating) {
        return;
      }
      int[] wanted = null;
      while (lanes < config.connections()) {
        if (wanted == null) {
          wanted = cursorArray();
        }
        int p = PieceScheduler.next(layout.count(), taken, wanted);
        if (p < 0) {
          break;
        }
        taken.set(p);
        lanes++;
        start.add(p);
      }
    }
    for (int p : start) {
      fetchPiece(p);
    }
  }

  private void fetchPiece(int piece) {
    BlobLocation loc;
    long from;
    long to;
    synchronized (this) {
      if (state != State.FETCHING || !rangeMode) {
        lanes--;
        taken.clear(piece);
        return;
      }
      loc = location;
      from = layout.start(piece) + filled[piece];
      to = layout.start(piece) + layout.length(piece) - 1;
    }
    if (from > to) {
      laneFinished(piece, null, false, loc);
      return;
    }
    upstream.openRange(loc, new ByteRange(from, to)).onComplete(ar -> {
      if (ar.failed()) {
        laneFinished(piece, ar.cause(), false, loc);
      } else {
        new Writer(piece, from, to, ar.result(), loc).start();
      }
    });
  }

  /**
   * A connection finished with a piece: completed, or failed with {@code error}. Decides what happens next:
   * retry with backoff, re-resolve the CDN URL, fall back to one stream, or fail the download.
   */
  private void laneFinished(int piece, Throwable error, boolean progressed, BlobLocation used) {
    if (error == null) {
      synchronized (this) {
        lanes--;
        attempts[piece] = 0;
        if (!done.get(piece)) {
          taken.clear(piece);
        }
      }
      pump();
      return;
    }
    UpstreamException u = UpstreamException.classify(error, "blob " + digest.shortHex() + " piece " + piece);
    boolean retryLater = false;
    long delay = 0;
    synchronized (this) {
      lanes--;
      if (state != State.FETCHING || !rangeMode) {
        taken.clear(piece);
        return;
      }
      switch (u.kind()) {
        case URL_REFUSED -> taken.clear(piece);
        case RANGE_IGNORED -> taken.clear(piece);
        case NOT_FOUND, DENIED, FATAL -> taken.clear(piece);
        default -> {
          attempts[piece] = progressed ? 1 : attempts[piece] + 1;
          if (attempts[piece] < config.maxPieceAttempts()) {
            retryLater = true;
            delay = backoff.delay(attempts[piece]).toMillis();
          }
        }
      }
    }
    switch (u.kind()) {
      case URL_REFUSED -> relocate(u, used);
      case RANGE_IGNORED -> fallBackToStream();
      case NOT_FOUND, DENIED, FATAL -> fail(toRegistryError(u));
      default -> {
        if (u.kind() == UpstreamException.Kind.TIMEOUT) {
          metrics.stall();
        }
        metrics.pieceRetry(u.kind() == UpstreamException.Kind.TIMEOUT ? "timeout" : u.status() > 0 ? "status" : "error");
        if (!retryLater) {
          fail(toRegistryError(new UpstreamException(u.kind(), u.status(),
              u.getMessage() + " (gave up after " + config.maxPieceAttempts() + " tries)", u)));
          return;
        }
        LOG.fine(() -> u.getMessage() + "; retrying");
        vertx.setTimer(Math.max(1, delay), id -> {
          synchronized (this) {
            taken.clear(piece);
          }
          pump();
        });
        pump();
      }
    }
  }

  /**
   * The CDN refused the URL {@code used}: resolve the blob again (once for all lanes that fail together) and
   * go on. A lane failing on a URL that was already replaced just retries with the new one.
   */
  private void relocate(UpstreamException cause, BlobLocation used) {
    boolean giveUp = false;
    boolean start = false;
    synchronized (this) {
      if (state != State.FETCHING) {
        return;
      }
      if (!relocating && used == location) {
        if (relocations >= config.maxRelocations()) {
          giveUp = true;
        } else {
          relocating = true;
          relocations++;
          start = true;
        }
      }
    }
    if (giveUp) {
      fail(toRegistryError(new UpstreamException(UpstreamException.Kind.RETRYABLE, cause.status(),
          cause.getMessage() + " (re-resolved " + config.maxRelocations() + " times already)", cause)));
      return;
    }
    if (!start) {
      pump();
      return;
    }
    metrics.relocation();
    LOG.info(() -> "re-resolving " + digest + ": " + cause.getMessage());
    locateWithRetry(1).onComplete(ar -> {
      RegistryException error = null;
      synchronized (this) {
        relocating = false;
        if (ar.failed()) {
          error = toRegistryError(ar.cause());
        } else if (ar.result().size() != layout.size()) {
          error = new RegistryException(ErrorCode.UPSTREAM_ERROR, "blob " + digest + ": upstream now says "
              + ar.result().size() + " bytes, earlier " + layout.size());
        } else {
          location = ar.result();
        }
      }
      if (error != null) {
        fail(error);
      } else {
        pump();
      }
    });
  }

  private void fallBackToStream() {
    List<HttpClientRequest> cancel;
    synchronized (this) {
      if (!rangeMode || state != State.FETCHING) {
        return;
      }
      rangeMode = false;
      cancel = new ArrayList<>(inflight.keySet());
    }
    metrics.rangeFallback();
    LOG.warning(() -> "upstream ignores Range for " + digest + "; falling back to one stream");
    for (HttpClientRequest r : cancel) {
      r.reset();
    }
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
      streamAttempts++;
    }
    upstream.openWhole(loc).onComplete(ar -> {
      if (ar.failed()) {
        streamFinished(ar.cause());
      } else {
        new Writer(-1, 0, loc.size() - 1, ar.result(), loc).start();
      }
    });
  }

  private void streamFinished(Throwable error) {
    boolean complete;
    int tries;
    synchronized (this) {
      if (state != State.FETCHING) {
        return;
      }
      complete = done.cardinality() == layout.count();
      tries = streamAttempts;
    }
    if (error == null && complete) {
      return;
    }
    UpstreamException u = error == null
        ? new UpstreamException(UpstreamException.Kind.RETRYABLE, 200, "blob " + digest.shortHex() + ": upstream stream ended early")
        : UpstreamException.classify(error, "blob " + digest.shortHex());
    if (!u.isRetryable() || tries >= config.maxPieceAttempts()) {
      fail(toRegistryError(u));
      return;
    }
    metrics.pieceRetry(u.kind() == UpstreamException.Kind.TIMEOUT ? "timeout" : "error");
    vertx.setTimer(backoff.delay(tries).toMillis(), id -> startStream());
  }

  /**
   * Streams one upstream response into the partial file: chunks are queued and written in order by one task
   * at a time on the io executor; the response is paused while more than {@link #LANE_HIGH_WATER} bytes wait.
   * It reports to the download only after its last write finished, so a retried piece never races the
   * writes of the attempt before it.
   */
  private final class Writer {
    private final int piece;
    private final long end;
    private final HttpClientResponse response;
    private final ArrayDeque<Buffer> queue = new ArrayDeque<>();
    private long position;
    private long queued;
    private long written;
    private boolean writing;
    private boolean ended;
    private Throwable error;
    private boolean reported;
    private boolean paused;
    private final BlobLocation used;
    private Context context;
    private volatile long lastData;
    private volatile boolean stalled;

    Writer(int piece, long from, long to, HttpClientResponse response, BlobLocation used) {
      this.piece = piece;
      this.position = from;
      this.end = to;
      this.response = response;
      this.used = used;
      this.lastData = System.nanoTime();
    }

    void start() {
      context = vertx.getOrCreateContext();
      synchronized (BlobDownload.this) {
        if (state != State.FETCHING) {
          response.request().reset();
          if (piece >= 0) {
            lanes--;
            taken.clear(piece);
          }
          return;
        }
        inflight.put(response.request(), this);
      }
      response.handler(this::onData);
      response.exceptionHandler(this::onError);
      response.endHandler(v -> onEnd());
      response.resume();
    }

    private void onData(Buffer b) {
      lastData = System.nanoTime();
      metrics.upstreamBytes("blob", b.length());
      upstreamBytesAdd(b.length());
      boolean startWriter = false;
      synchronized (this) {
        if (error != null || reported) {
          return;
        }
        queue.add(b);
        queued += b.length();
        if (queued > LANE_HIGH_WATER && !paused) {
          paused = true;
          response.pause();
        }
        if (!writing) {
          writing = true;
          startWriter = true;
        }
      }
      if (startWriter) {
        io.execute(this::drain);
      }
    }

    private void onError(Throwable t) {
      boolean report;
      synchronized (this) {
        if (error == null) {
          error = t;
        }
        report = !writing;
      }
      if (report) {
        report();
      }
    }

    private void onEnd() {
      boolean report;
      synchronized (this) {
        ended = true;
        report = !writing;
      }
      if (report) {
        report();
      }
    }

    /** Runs on the io executor: writes queued chunks in order until the queue is empty. */
    private void drain() {
      while (true) {
        Buffer b;
        boolean resume = false;
        synchronized (this) {
          b = error == null ? queue.poll() : null;
          if (b == null) {
            writing = false;
            queue.clear();
            if (!ended && error == null) {
              return;
            }
            break;
          }
          queued -= b.length();
          if (paused && queued < LANE_LOW_WATER) {
            paused = false;
            resume = true;
          }
        }
        if (resume) {
          context.runOnContext(v -> response.resume());
        }
        long pos = position;
        int len = (int) Math.min(b.length(), end + 1 - pos);
        if (len <= 0) {
          continue;
        }
        try {
          // the chunk's own memory, no copy (Vert.x hands the handler a buffer it no longer uses)
          ByteBuffer bb = ((io.vertx.core.internal.buffer.BufferInternal) b).getByteBuf().nioBuffer(0, len);
          writeFully(bb, pos);
        } catch (IOException e) {
          fail(new RegistryException(storageCode(e), "writing " + digest.shortHex() + " to the cache failed: " + e.getMessage()
              + (storageCode(e) == ErrorCode.INSUFFICIENT_STORAGE ? " (nothing more could be evicted; what was fetched is kept and the next request resumes it)" : ""), e));
          synchronized (this) {
            error = e;
            writing = false;
          }
          break;
        }
        position = pos + len;
        written += len;
        onWritten(pos, len);
      }
      report();
    }

    private void report() {
      Throwable err;
      synchronized (this) {
        if (reported) {
          return;
        }
        reported = true;
        err = error;
      }
      if (stalled) {
        err = new UpstreamException(UpstreamException.Kind.TIMEOUT, 0,
            "blob " + digest.shortHex() + ": upstream stalled for " + config.stallTimeout().toMillis() + " ms");
      }
      synchronized (BlobDownload.this) {
        inflight.remove(response.request());
      }
      boolean complete = position == end + 1;
      if (piece < 0) {
        streamFinished(err);
        return;
      }
      if (err == null && !complete) {
        err = new UpstreamException(UpstreamException.Kind.RETRYABLE, 206,
            "blob " + digest.shortHex() + " piece " + piece + ": upstream body ended " + (end + 1 - position) + " bytes short");
      }
      laneFinished(piece, err, written > 0, used);
    }
  }

  /**
   * Vert.x's request idle timeout only covers the wait for response headers, so a body that stops arriving
   * would hang its piece forever. This timer closes any upstream response that delivered nothing for the
   * stall timeout; its piece is then retried from its last byte.
   */
  private void startWatchdog() {
    long stallNanos = config.stallTimeout().toNanos();
    long period = Math.max(50, config.stallTimeout().toMillis() / 4);
    long id = vertx.setPeriodic(period, t -> {
      List<Writer> stuck = new ArrayList<>();
      long now = System.nanoTime();
      sampleRate(now);
      synchronized (this) {
        if (state != State.FETCHING) {
          vertx.cancelTimer(t);
          return;
        }
        for (Writer w : inflight.values()) {
          if (now - w.lastData > stallNanos && !w.stalled) {
            w.stalled = true;
            stuck.add(w);
          }
        }
      }
      for (Writer w : stuck) {
        LOG.fine(() -> "upstream connection for " + digest.shortHex() + " stalled; closing it");
        w.response.request().reset(0, new UpstreamException(UpstreamException.Kind.TIMEOUT, 0,
            "blob " + digest.shortHex() + ": no data from upstream for " + config.stallTimeout().toMillis() + " ms"));
      }
    });
    synchronized (this) {
      watchdog = id;
    }
  }

  /** How often the piece map of a running download is made durable. */
  static final long PERSIST_INTERVAL_MS = 1000;

  private void startPersister() {
    long id = vertx.setPeriodic(PERSIST_INTERVAL_MS, t -> io.execute(this::persistPieces));
    synchronized (this) {
      persister = id;
    }
  }

  /**
   * Makes the pieces done so far durable: flushes the partial file, then records them. Pieces finished after the
   * snapshot are not named, so every piece the record names was written before the flush. On the io executor.
   */
  void persistPieces() {
    BitSet snapshot;
    long size;
    int pieceSize;
    synchronized (this) {
      if (persisting || layout == null || channel == null || !(state == State.FETCHING || state == State.FAILED)
          || done.equals(persisted) || !rangeMode) {
        return;
      }
      persisting = true;
      snapshot = (BitSet) done.clone();
      size = layout.size();
      pieceSize = layout.pieceSize();
    }
    try {
      // flush through a descriptor of our own: the download's channel may be closed under us when its last reader
      // leaves a failed download, and fsync covers the whole file whichever descriptor asks
      try (FileChannel own = FileChannel.open(store.partialPath(digest), java.nio.file.StandardOpenOption.WRITE)) {
        own.force(false);
      }
      store.putPartial(new PartialRecord(digest, repository, size, pieceSize, snapshot, clock.millis()));
      synchronized (this) {
        persisted = snapshot;
      }
    } catch (IOException | RuntimeException e) {
      LOG.fine(() -> "could not record the pieces of " + digest.shortHex() + ": " + e);
    } finally {
      synchronized (this) {
        persisting = false;
      }
    }
  }

  private synchronized void upstreamBytesAdd(long n) {
    upstreamBytes += n;
  }

  /** The least room freed when the disk is full under a download. */
  private static final long ENOSPC_MIN_FREE = 1L << 20;

  /**
   * Writes all of {@code bb} at {@code pos}. When the disk is full, asks the space manager to evict and tries
   * again (twice); fails with the disk's error when nothing could be freed. On the io executor.
   */
  private void writeFully(ByteBuffer bb, long pos) throws IOException {
    long at = pos;
    int attempts = 0;
    while (bb.hasRemaining()) {
      try {
        at += channel.write(bb, at);
      } catch (IOException e) {
        if (storageCode(e) != ErrorCode.INSUFFICIENT_STORAGE || attempts++ >= 2) {
          throw e;
        }
        // what this download still has to write (its file is sparse): evicting that much lets it finish
        long needed;
        synchronized (this) {
          needed = layout.size() - bytesDoneLocked();
        }
        if (!space.makeRoom(Math.max(ENOSPC_MIN_FREE, needed), ENOSPC_MIN_FREE)) {
          throw e;
        }
        LOG.warning(() -> "disk full while writing " + digest.shortHex() + "; made room to go on");
      }
    }
  }

  private static ErrorCode storageCode(IOException e) {
    String m = String.valueOf(e.getMessage());
    return m.contains("No space left") || m.contains("Disk quota") ? ErrorCode.INSUFFICIENT_STORAGE : ErrorCode.INTERNAL_ERROR;
  }

  /**
   * Bytes {@code [pos, pos+len)} are in the file: advance the pieces they extend, wake readers waiting on them,
   * and hash further if a piece completed.
   */
  private void onWritten(long pos, int len) {
    List<Waiter> wake = new ArrayList<>();
    boolean newlyDone = false;
    synchronized (this) {
      if (state != State.FETCHING) {
        return;
      }
      long endPos = pos + len;
      for (int p = layout.pieceAt(pos); p <= layout.pieceAt(endPos - 1); p++) {
        long s = layout.start(p);
        long reach = Math.min(layout.length(p), endPos - s);
        if (pos <= s + filled[p] && reach > filled[p]) {
          filled[p] = reach;
          if (reach == layout.length(p) && !done.get(p)) {
            done.set(p);
            taken.set(p);
            newlyDone = true;
          }
        }
        List<Waiter> ws = waiters.get(p);
        if (ws != null) {
          long avail = s + filled[p];
          ws.removeIf(w -> {
            if (w.position < avail) {
              wake.add(w);
              return true;
            }
            return false;
          });
          if (ws.isEmpty()) {
            waiters.remove(p);
          }
        }
      }
    }
    for (Waiter w : wake) {
      w.wake();
    }
    if (newlyDone) {
      kickHasher();
    }
  }

  // ---------------------------------------------------------------- hashing and commit

  private void kickHasher() {
    long from;
    long to;
    boolean finish = false;
    synchronized (this) {
      if (hashing || state != State.FETCHING) {
        return;
      }
      int firstMissing = done.nextClearBit(0);
      long prefix = firstMissing >= layout.count() ? layout.size() : layout.start(firstMissing);
      if (prefix <= hashed) {
        if (hashed == layout.size() && firstMissing >= layout.count()) {
          state = State.VERIFYING;
          finish = true;
        } else {
          return;
        }
      }
      hashing = !finish;
      from = hashed;
      to = prefix;
    }
    if (finish) {
      io.execute(this::verifyAndCommit);
      return;
    }
    io.execute(() -> hashRange(from, to));
  }

  private void hashRange(long from, long to) {
    FileChannel ch;
    synchronized (this) {
      ch = channel;
    }
    ByteBuffer buf = ByteBuffer.allocate(HASH_CHUNK);
    long pos = from;
    try {
      while (pos < to) {
        buf.clear();
        buf.limit((int) Math.min(HASH_CHUNK, to - pos));
        int n = ch.read(buf, pos);
        if (n < 0) {
          throw new IOException("partial file shorter than expected at " + pos);
        }
        buf.flip();
        sha.update(buf);
        pos += n;
      }
    } catch (IOException e) {
      synchronized (this) {
        hashing = false;
      }
      fail(new RegistryException(ErrorCode.INTERNAL_ERROR, "reading back " + digest.shortHex() + " to hash it failed: " + e.getMessage(), e));
      return;
    }
    synchronized (this) {
      hashed = to;
      hashing = false;
    }
    kickHasher();
  }

  private void verifyAndCommit() {
    Digest actual = Digest.ofBytes(sha.digest());
    if (!actual.equals(digest)) {
      metrics.digestMismatch();
      LOG.warning(() -> "digest mismatch for " + digest + ": upstream bytes hash to " + actual + "; discarded");
      fail(new RegistryException(ErrorCode.BLOB_CORRUPT, "blob " + digest + ": the bytes upstream sent hash to " + actual
          + "; they were discarded and never served as complete"));
      return;
    }
    BlobRecord record;
    FileChannel ch;
    long size;
    synchronized (this) {
      ch = channel;
      size = layout.size();
    }
    // the bytes are right: responses may end now; flushing them to disk is the cache's business
    verified.tryComplete();
    try {
      record = store.commit(digest, size, ch);
      space.release(digest);
      space.enforce();
    } catch (IOException | RuntimeException e) {
      fail(new RegistryException(e instanceof IOException io ? storageCode(io) : ErrorCode.INTERNAL_ERROR,
          "committing " + digest.shortHex() + " failed: " + e.getMessage(), e));
      return;
    }
    List<Waiter> wake;
    long took;
    long fetched;
    boolean close;
    synchronized (this) {
      state = State.COMMITTED;
      cancelWatchdog();
      wake = drainWaiters();
      took = clock.millis() - startedAt;
      fetched = upstreamBytes;
      close = readers == 0;
    }
    metrics.downloadFinished("committed", Duration.ofMillis(took));
    LOG.info(() -> String.format("committed %s (%d bytes) in %d ms, %d bytes from upstream", digest, size, took, fetched));
    completion.tryComplete(record);
    for (Waiter w : wake) {
      w.wake();
    }
    if (close) {
      closeQuietly(ch);
    }
  }

  private void cancelWatchdog() {
    if (watchdog != -1) {
      vertx.cancelTimer(watchdog);
      watchdog = -1;
    }
    if (persister != -1) {
      vertx.cancelTimer(persister);
      persister = -1;
    }
  }

  private List<Waiter> drainWaiters() {
    List<Waiter> all = new ArrayList<>();
    for (List<Waiter> ws : waiters.values()) {
      all.addAll(ws);
    }
    waiters.clear();
    return all;
  }

  /** Fails the download (once): resets upstream requests, fails readers, discards the partial file. */
  void fail(RegistryException e) {
    List<Waiter> wake;
    List<HttpClientRequest> cancel;
    FileChannel ch;
    boolean close;
    synchronized (this) {
      if (state == State.COMMITTED || state == State.FAILED) {
        return;
      }
      state = State.FAILED;
      failure = e;
      cancelWatchdog();
      wake = drainWaiters();
      cancel = new ArrayList<>(inflight.keySet());
      inflight.clear();
      ch = channel;
      close = readers == 0;
    }
    LOG.log(e.code() == ErrorCode.BLOB_CORRUPT ? Level.WARNING : Level.INFO, () -> "download of " + digest + " failed: " + e.getMessage());
    metrics.downloadFinished(e.code() == ErrorCode.BLOB_CORRUPT ? "corrupt" : "failed", Duration.ZERO);
    for (HttpClientRequest r : cancel) {
      r.reset();
    }
    ready.tryFail(e);
    verified.tryFail(e);
    for (Waiter w : wake) {
      w.wake();
    }
    boolean keep = resumable(e);
    // the download counts as over (and the manager lets a new one start) only once its partial file is either
    // recorded for resume or deleted: a new download must not open the file while this one still writes its map
    io.execute(() -> {
      try {
        space.release(digest);
        if (keep) {
          persistPieces();
        } else {
          store.discardPartial(digest);
        }
        if (close && ch != null) {
          closeQuietly(ch);
        }
      } finally {
        completion.tryFail(e);
      }
    });
  }

  /**
   * Whether the pieces of a failed download are worth keeping for the next attempt: yes when upstream or the disk
   * failed; no when the bytes were wrong or the blob does not exist.
   */
  private static boolean resumable(RegistryException e) {
    return e.code() != ErrorCode.BLOB_CORRUPT && e.code() != ErrorCode.BLOB_UNKNOWN && e.code() != ErrorCode.DENIED;
  }

  private RegistryException toRegistryError(Throwable t) {
    if (t instanceof RegistryException r) {
      return r;
    }
    UpstreamException u = UpstreamException.classify(t, "blob " + digest.shortHex());
    return u.toRegistryException(ErrorCode.BLOB_UNKNOWN);
  }

  private static void closeQuietly(FileChannel ch) {
    try {
      ch.close();
    } catch (IOException e) {
      // nothing to do: the channel was only read from or is being discarded
    }
  }

  // ---------------------------------------------------------------- readers

  /**
   * Opens a reader unless the download already ended: null when it was committed (read the committed file
   * instead); throws the failure when it failed.
   */
  synchronized Reader tryOpenReader() {
    if (state == State.FAILED) {
      throw failure;
    }
    if (state == State.COMMITTED) {
      return null;
    }
    readers++;
    return new Reader();
  }

  /** A client reading the blob while it downloads. Use from one Vert.x context. */
  public final class Reader {
    private boolean closed;

    private Reader() {}

    /**
     * Reads up to {@code max} bytes at {@code position}, waiting until at least one is there.
     *
     * @return completes on the caller's context with 1 to {@code max} bytes, which the caller must
     *     {@linkplain Chunk#release() release}; fails with the download's {@link RegistryException} if it failed
     */
    public Future<Chunk> read(long position, int max) {
      Context ctx = vertx.getOrCreateContext();
      Promise<Chunk> p = Promise.promise();
      attempt(position, max, ctx, p);
      return p.future();
    }

    private void attempt(long position, int max, Context ctx, Promise<Chunk> p) {
      long available;
      FileChannel ch;
      RegistryException failed;
      boolean pump = false;
      synchronized (BlobDownload.this) {
        failed = failure;
        ch = channel;
        available = 0;
        if (failed == null) {
          if (position < 0 || position >= layout.size()) {
            failed = new RegistryException(ErrorCode.INTERNAL_ERROR, "read at " + position + " outside blob of " + layout.size() + " bytes");
          } else {
            int piece = layout.pieceAt(position);
            cursors.put(this, piece);
            available = availableAt(position);
            if (available == 0) {
              waiters.computeIfAbsent(piece, k -> new ArrayList<>()).add(new Waiter(position, () -> attempt(position, max, ctx, p), ctx));
              pump = !taken.get(piece) && lanes < config.connections();
            }
          }
        }
      }
      if (failed != null) {
        RegistryException f = failed;
        ctx.runOnContext(v -> p.tryFail(f));
        return;
      }
      if (available == 0) {
        if (pump) {
          pump();
        }
        return;
      }
      int n = (int) Math.min(available, max);
      io.execute(() -> {
        try {
          Chunk out = Chunk.read(ch, position, n);
          ctx.runOnContext(v -> {
            if (!p.tryComplete(out)) {
              out.release();
            }
          });
        } catch (IOException e) {
          RegistryException f = failure();
          RegistryException err = f != null ? f : new RegistryException(ErrorCode.INTERNAL_ERROR, "reading " + digest.shortHex() + ": " + e, e);
          ctx.runOnContext(v -> p.tryFail(err));
        }
      });
    }

    /** Stops reading; the download goes on (other clients and the cache want it). */
    public void close() {
      FileChannel close = null;
      synchronized (BlobDownload.this) {
        if (closed) {
          return;
        }
        closed = true;
        cursors.remove(this);
        readers--;
        if (readers == 0 && (state == State.COMMITTED || state == State.FAILED)) {
          close = channel;
        }
      }
      if (close != null) {
        FileChannel ch = close;
        io.execute(() -> closeQuietly(ch));
      }
    }
  }

  private synchronized RegistryException failure() {
    return failure;
  }

  /** Contiguous bytes readable at {@code position}. Caller holds the lock. */
  private long availableAt(long position) {
    if (state == State.COMMITTED || state == State.VERIFYING) {
      return layout.size() - position;
    }
    int p = layout.pieceAt(position);
    long off = position - layout.start(p);
    if (off >= filled[p]) {
      return 0;
    }
    long avail = filled[p] - off;
    if (filled[p] == layout.length(p)) {
      for (int q = p + 1; q < layout.count() && filled[q] > 0; q++) {
        avail += filled[q];
        if (filled[q] < layout.length(q)) {
          break;
        }
      }
    }
    return avail;
  }

  private record Waiter(long position, Runnable retry, Context context) {
    void wake() {
      context.runOnContext(v -> retry.run());
    }
  }

  @Override
  public String toString() {
    return "BlobDownload[" + digest + ", " + state() + "]";
  }
}
