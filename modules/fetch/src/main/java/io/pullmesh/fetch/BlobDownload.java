package io.pullmesh.fetch;

import io.pullmesh.core.ByteRange;
import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.PieceLayout;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.core.Sha256;
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
  private final String userAgent;
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
  private int[] persistedFilled = new int[0];
  private boolean persisting;
  private int readers;
  private long startedAt;
  private long upstreamBytes;

  // ---- the mesh (all null/unused when the node runs alone); guarded by this
  private final PeerNetwork peers;
  private PeerNetwork.View view = PeerNetwork.View.EMPTY;
  /** This node fetches the blob from upstream (it holds the mesh-wide claim, or runs alone). */
  private boolean fetcher;
  /** {@link #location} came from upstream (a download that started from peers has only a size until it needs upstream). */
  private boolean upstreamLocated;
  private boolean locating;
  private boolean viewing;
  private boolean claiming;
  /** The per-piece SHA-256 list pieces are checked against on arrival, when one exists for this layout. */
  private PeerNetwork.PieceHashes checkList;
  /** For each piece, the peer whose bytes are in it (null: upstream; {@link #MIXED}: more than one source). */
  private String[] sourceOf;
  private final Map<String, Integer> peerLanes = new HashMap<>();
  /** Some bytes came from the peer that fetches the blob from upstream (it publishes the piece hashes, not this node). */
  private boolean streamedFromFetcher;
  private BitSet publishedDone = new BitSet();
  private long peerTimer = -1;
  private long peerBytes;
  private boolean publishedOnce;
  /** Failed requests in a row, per peer; a peer that reaches {@link #MAX_PEER_ERRORS} is penalised. */
  private final Map<String, Integer> peerErrors = new HashMap<>();
  /** Pieces written in full and being checked against the piece-hash list. */
  private final BitSet checking = new BitSet();
  private static final int MAX_PEER_ERRORS = 3;
  private static final String MIXED = "\0mixed";
  /** Most requests one download keeps open to one peer that holds the bytes already. */
  private static final int PER_PEER_LANES = 8;
  /** How often a download refreshes its view of the mesh and tells the mesh its progress. */
  static final long PEER_TICK_MS = 250;

  // touched only by the single running hash task
  private final MessageDigest sha;

  /** @param userAgent the User-Agent of the client whose request started the download (sent upstream), or null */
  BlobDownload(Digest digest, RepositoryName repository, RepositoryName remote, String userAgent, Vertx vertx, UpstreamRegistry upstream,
      BlobStore store, SpaceManager space, Executor io, MetricsRecorder metrics, FetchConfig config, Backoff backoff, Clock clock,
      PeerNetwork peers) {
    this.userAgent = userAgent;
    this.peers = peers;
    this.fetcher = peers == null;
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
    if (peers == null) {
      begin(known != null ? Future.succeededFuture(known) : locateWithRetry(1), true, 0);
      return;
    }
    peers.view(digest).otherwise(PeerNetwork.View.EMPTY).onComplete(ar -> decide(ar.result(), known, 0));
  }

  /** How many times (of {@link #PEER_TICK_MS}) a download waits for a node that claimed a blob to say how big it is. */
  private static final int MAX_SIZE_WAITS = 40;

  /**
   * Where to start: from peers when one holds the blob (or fetches it and said how big it is), else from upstream
   * after claiming the blob mesh-wide, so that only one node of the mesh fetches it from upstream.
   */
  private void decide(PeerNetwork.View v, BlobLocation known, int waits) {
    synchronized (this) {
      view = v;
    }
    if (v.size() >= 0 && !v.holders().isEmpty()) {
      LOG.fine(() -> "fetching " + digest + " from peers " + v.holders().stream().map(PeerNetwork.Holder::node).toList()
          + (v.fetcher() != null ? " (" + v.fetcher() + " fetches it from upstream)" : ""));
      begin(Future.succeededFuture(new BlobLocation(remote, digest, upstream.base(), v.size(), true, userAgent)), false,
          v.hashes() != null && v.hashes().size() == v.size() ? v.hashes().pieceSize() : 0);
      return;
    }
    if (v.fetcher() != null && !v.fetcher().equals(peers.self()) && waits < MAX_SIZE_WAITS) {
      vertx.setTimer(PEER_TICK_MS, id -> peers.view(digest).otherwise(PeerNetwork.View.EMPTY).onComplete(ar -> decide(ar.result(), known, waits + 1)));
      return;
    }
    peers.claim(digest).onComplete(c -> {
      if (c.succeeded() && !c.result().equals(peers.self()) && waits < MAX_SIZE_WAITS) {
        peers.view(digest).otherwise(PeerNetwork.View.EMPTY).onComplete(ar -> decide(ar.result(), known, waits + 1));
        return;
      }
      if (c.failed()) {
        LOG.warning(() -> "could not claim " + digest + " in the mesh (" + c.cause() + "); fetching it from upstream");
      }
      synchronized (this) {
        fetcher = true;
      }
      begin(known != null ? Future.succeededFuture(known) : locateWithRetry(1), true, 0);
    });
  }

  /**
   * Opens the partial file once the blob's size is known and starts fetching.
   *
   * @param fromUpstream whether {@code located} is a real upstream location (else it carries only the size)
   * @param pieceSize the piece size to cut a new partial file in (that of a published hash list), or 0 to choose
   */
  private void begin(Future<BlobLocation> located, boolean fromUpstream, int pieceSize) {
    located.compose(loc -> vertx.executeBlocking(() -> open(loc, pieceSize), false)).onComplete(ar -> {
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
        upstreamLocated = fromUpstream;
        channel = o.channel();
        layout = o.resumed() != null ? new PieceLayout(loc.size(), o.resumed().pieceSize())
            : pieceSize > 0 ? new PieceLayout(loc.size(), pieceSize)
            : PieceLayout.choose(loc.size(), config.connections(), config.minPieceSize(), config.maxPieceSize());
        int n = layout.count();
        filled = new long[n];
        done = new BitSet(n);
        taken = new BitSet(n);
        attempts = new int[n];
        sourceOf = new String[n];
        if (peers != null) {
          adoptCheckList(view.hashes());
        }
        if (o.resumed() != null) {
          BitSet had = o.resumed().done();
          for (int p = had.nextSetBit(0); p >= 0 && p < n; p = had.nextSetBit(p + 1)) {
            filled[p] = layout.length(p);
            done.set(p);
            taken.set(p);
          }
          // an unfinished piece goes on from the prefix that was on disk when its state was last recorded
          for (int p = 0; p < n; p++) {
            if (!done.get(p)) {
              filled[p] = o.resumed().onDisk(p);
            }
          }
          persisted = (BitSet) done.clone();
          persistedFilled = filledOfUnfinished();
        }
        resumedPieces = done.cardinality();
        state = State.FETCHING;
        rangeMode = loc.rangeSupported();
        stream = !rangeMode;
      }
      if (resumedPieces > 0) {
        LOG.info(() -> "resuming " + digest + ": " + resumedPieces + " of " + layout.count() + " pieces already on disk");
      }
      LOG.fine(() -> "fetching " + digest + " (" + loc.size() + " bytes) from " + (fromUpstream ? loc.safeUrl() : "peers"));
      startWatchdog();
      startPersister();
      startPeerTick();
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

  /** Uses {@code h} to check pieces on arrival if it fits this download's layout. Caller holds the lock. */
  private void adoptCheckList(PeerNetwork.PieceHashes h) {
    if (checkList == null && h != null && layout != null && h.size() == layout.size() && h.pieceSize() == layout.pieceSize()) {
      checkList = h;
    }
  }

  /** Reopens a resumable partial file of the right size, or creates a new one. Blocking. */
  private Opened open(BlobLocation loc, int wantedPieceSize) {
    Optional<PartialRecord> had = store.partial(digest).filter(r -> r.size() == loc.size() && loc.rangeSupported());
    // reserved against the limit and the disk before the first body byte: a blob that cannot fit is a 507 now, not a
    // 200 that breaks (issue 18); a resumed download needs room only for what it lacks
    space.reserve(digest, loc.size(), had.map(PartialRecord::bytesOnDisk).orElse(0L));
    try {
      return openPartial(loc, wantedPieceSize, had);
    } catch (IOException e) {
      throw new RegistryException(storageCode(e), "blob " + digest + ": the cache cannot store it: " + e.getMessage(), e);
    }
  }

  private Opened openPartial(BlobLocation loc, int wantedPieceSize, Optional<PartialRecord> had) throws IOException {
    if (had.isPresent()) {
      return new Opened(loc, store.reopenPartial(had.get()), had.get());
    }
    int pieceSize = wantedPieceSize > 0 ? wantedPieceSize
        : PieceLayout.choose(loc.size(), config.connections(), config.minPieceSize(), config.maxPieceSize()).pieceSize();
    FileChannel ch = store.openPartial(digest, loc.size(), repository, pieceSize);
    return new Opened(loc, ch, null);
  }

  private Future<BlobLocation> locateWithRetry(int attempt) {
    return upstream.locate(remote, digest, userAgent).recover(t -> {
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

  /** Where a lane fetches its piece from: upstream, or the named peer. */
  private static final String UPSTREAM = "\0upstream";

  /** Starts fetching pieces on free connections, most wanted first, each from the best source that has it. */
  private void pump() {
    List<int[]> start = new ArrayList<>();
    List<String> from = new ArrayList<>();
    boolean locate = false;
    synchronized (this) {
      if (state != State.FETCHING || !rangeMode || relocating) {
        return;
      }
      int[] wanted = null;
      BitSet blocked = null;
      while (lanes < config.connections()) {
        if (wanted == null) {
          wanted = cursorArray();
          blocked = (BitSet) taken.clone();
        }
        int p = PieceScheduler.next(layout.count(), blocked, wanted);
        if (p < 0) {
          break;
        }
        blocked.set(p);
        String src = sourceFor(p);
        if (src == null) {
          locate |= fetcher && !upstreamLocated;
          continue;
        }
        taken.set(p);
        lanes++;
        if (src != UPSTREAM) {
          peerLanes.merge(src, 1, Integer::sum);
          streamedFromFetcher |= src.equals(view.fetcher());
        }
        start.add(new int[] {p});
        from.add(src);
      }
    }
    for (int i = 0; i < start.size(); i++) {
      fetchPiece(start.get(i)[0], from.get(i));
    }
    if (locate) {
      locateUpstream();
    }
  }

  /**
   * The source for piece {@code p} now, or null when none can serve it yet. Peers that hold its bytes come first (the
   * least busy one); then the node fetching the blob from upstream, whose partial copy streams the bytes as they
   * arrive; upstream only when this node is the one fetching from it. Caller holds the lock.
   */
  private String sourceFor(int p) {
    if (peers == null) {
      return UPSTREAM;
    }
    long first = layout.start(p) + filled[p];
    long last = layout.start(p) + layout.length(p) - 1;
    String best = null;
    int bestLanes = Integer.MAX_VALUE;
    PeerNetwork.Holder streaming = null;
    for (PeerNetwork.Holder h : view.holders()) {
      int busy = peerLanes.getOrDefault(h.node(), 0);
      if (h.has(first, last) && busy < PER_PEER_LANES && busy < bestLanes) {
        best = h.node();
        bestLanes = busy;
      }
      if (h.node().equals(view.fetcher())) {
        streaming = h;
      }
    }
    if (best != null) {
      return best;
    }
    if (fetcher) {
      return upstreamLocated ? UPSTREAM : null;
    }
    if (streaming != null && peerLanes.getOrDefault(streaming.node(), 0) < config.connections()) {
      return streaming.node();
    }
    return null;
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
      RegistryException error = null;
      boolean stream = false;
      synchronized (this) {
        locating = false;
        if (ar.failed()) {
          error = toRegistryError(ar.cause());
        } else if (ar.result().size() != layout.size()) {
          error = new RegistryException(ErrorCode.UPSTREAM_ERROR, "blob " + digest + ": upstream says "
              + ar.result().size() + " bytes, peers " + layout.size());
        } else {
          location = ar.result();
          upstreamLocated = true;
          stream = !location.rangeSupported();
        }
      }
      if (error != null) {
        fail(error);
      } else if (stream) {
        fallBackToStream();
      } else {
        pump();
      }
    });
  }

  private void fetchPiece(int piece, String src) {
    BlobLocation loc;
    long from;
    long to;
    synchronized (this) {
      if (state != State.FETCHING || !rangeMode) {
        lanes--;
        if (src != UPSTREAM) {
          peerLanes.merge(src, -1, Integer::sum);
        }
        taken.clear(piece);
        return;
      }
      loc = location;
      from = layout.start(piece) + filled[piece];
      to = layout.start(piece) + layout.length(piece) - 1;
    }
    if (from > to) {
      laneFinished(piece, null, false, loc, src);
      return;
    }
    ByteRange range = new ByteRange(from, to);
    (src == UPSTREAM ? upstream.openRange(loc, range) : peers.openRange(src, digest, range)).onComplete(ar -> {
      if (ar.failed()) {
        laneFinished(piece, ar.cause(), false, loc, src);
      } else {
        new Writer(piece, from, to, ar.result(), loc, src).start();
      }
    });
  }

  /**
   * A connection to a peer finished with a piece. A peer that failed is asked again after a pause and, after a few
   * failures in a row, not at all for a while; the piece goes to whichever source has it next. Waiting on the node
   * that fetches from upstream is not a failure (its bytes come as fast as upstream sends them).
   */
  private void peerLaneFinished(int piece, Throwable error, String peer) {
    boolean penalise = false;
    synchronized (this) {
      lanes--;
      peerLanes.merge(peer, -1, Integer::sum);
      if (error == null) {
        peerErrors.remove(peer);
        if (!done.get(piece) && !checking.get(piece)) {
          taken.clear(piece);
        }
      } else if (state == State.FETCHING) {
        boolean waiting = peer.equals(view.fetcher()) && error instanceof UpstreamException u && u.kind() == UpstreamException.Kind.TIMEOUT;
        if (!waiting && peerErrors.merge(peer, 1, Integer::sum) >= MAX_PEER_ERRORS) {
          peerErrors.remove(peer);
          penalise = true;
        }
      }
    }
    if (error == null) {
      pump();
      return;
    }
    LOG.fine(() -> "peer " + peer + " failed piece " + piece + " of " + digest.shortHex() + ": " + error.getMessage());
    metrics.peerPieceFailure(peer, "error");
    if (penalise) {
      peers.penalise(peer, "failed " + MAX_PEER_ERRORS + " requests for " + digest.shortHex() + " in a row");
    }
    vertx.setTimer(PEER_TICK_MS, id -> {
      synchronized (this) {
        taken.clear(piece);
      }
      refreshView();
    });
  }

  /**
   * A connection finished with a piece: completed, or failed with {@code error}. Decides what happens next:
   * retry with backoff, re-resolve the CDN URL, fall back to one stream, or fail the download.
   */
  private void laneFinished(int piece, Throwable error, boolean progressed, BlobLocation used, String src) {
    if (src != UPSTREAM) {
      peerLaneFinished(piece, error, src);
      return;
    }
    if (error == null) {
      synchronized (this) {
        lanes--;
        attempts[piece] = 0;
        if (!done.get(piece) && !checking.get(piece)) {
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
        new Writer(-1, 0, loc.size() - 1, ar.result(), loc, null).start();
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
    /** {@link #UPSTREAM} or the peer sending the bytes (null for the whole-body stream, which is upstream too). */
    private final String source;

    Writer(int piece, long from, long to, HttpClientResponse response, BlobLocation used, String source) {
      this.source = source == null ? UPSTREAM : source;
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
      if (source == UPSTREAM) {
        metrics.upstreamBytes(upstream.label(), "blob", b.length());
        upstreamBytesAdd(b.length());
      } else {
        metrics.peerBytes(b.length());
        peerBytesAdd(b.length());
      }
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
        onWritten(pos, len, source);
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
      laneFinished(piece, err, written > 0, used, source);
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

  /** Every {@link #PEER_TICK_MS}: tell the mesh which pieces this node has, and look again at what peers have. */
  private void startPeerTick() {
    if (peers == null) {
      return;
    }
    long id = vertx.setPeriodic(PEER_TICK_MS, t -> {
      BitSet publish = null;
      long size;
      int pieceSize;
      synchronized (this) {
        if (state != State.FETCHING) {
          vertx.cancelTimer(t);
          return;
        }
        if (!done.equals(publishedDone) || (fetcher && publishedDone.isEmpty() && !publishedOnce)) {
          publish = (BitSet) done.clone();
          publishedDone = publish;
          publishedOnce = true;
        }
        size = layout.size();
        pieceSize = layout.pieceSize();
      }
      if (publish != null) {
        peers.publishProgress(digest, size, pieceSize, publish);
      }
      refreshView();
    });
    synchronized (this) {
      peerTimer = id;
    }
    // a node fetching from upstream says so at once: peers waiting for the blob's size can start streaming from it
    BitSet now;
    synchronized (this) {
      now = (BitSet) done.clone();
      publishedDone = now;
      publishedOnce = true;
    }
    peers.publishProgress(digest, layout.size(), layout.pieceSize(), now);
  }

  /**
   * Looks at the mesh again (one lookup at a time). When no peer fetches the blob from upstream any more (it left, or
   * failed) and no peer has what this node still needs, this node claims the blob and fetches the rest upstream.
   */
  private void refreshView() {
    synchronized (this) {
      if (peers == null || viewing || state != State.FETCHING) {
        return;
      }
      viewing = true;
    }
    peers.view(digest).onComplete(ar -> {
      boolean claim;
      synchronized (this) {
        viewing = false;
        if (ar.succeeded()) {
          view = ar.result();
          adoptCheckList(view.hashes());
        }
        claim = !fetcher && !claiming && state == State.FETCHING && view.fetcher() == null && !peersCoverTheRest();
        claiming |= claim;
      }
      if (!claim) {
        pump();
        return;
      }
      peers.claim(digest).onComplete(c -> {
        boolean won;
        synchronized (this) {
          claiming = false;
          won = c.failed() || c.result().equals(peers.self());
          fetcher |= won;
        }
        if (won) {
          LOG.info(() -> "no peer fetches " + digest.shortHex() + " any more; fetching the rest from upstream");
        }
        pump();
      });
    });
  }

  /** Whether the peers in view hold every piece this node still lacks. Caller holds the lock. */
  private boolean peersCoverTheRest() {
    for (int p = done.nextClearBit(0); p < layout.count(); p = done.nextClearBit(p + 1)) {
      if (checking.get(p)) {
        continue;
      }
      long first = layout.start(p) + filled[p];
      long last = layout.start(p) + layout.length(p) - 1;
      boolean covered = false;
      for (PeerNetwork.Holder h : view.holders()) {
        if (h.has(first, last)) {
          covered = true;
          break;
        }
      }
      if (!covered) {
        return false;
      }
    }
    return true;
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
    int[] prefixes;
    long size;
    int pieceSize;
    synchronized (this) {
      if (persisting || layout == null || channel == null || !(state == State.FETCHING || state == State.FAILED) || !rangeMode) {
        return;
      }
      // taken before the flush: every byte these name was written before it, so it is on disk once the flush returns
      prefixes = filledOfUnfinished();
      if (done.equals(persisted) && java.util.Arrays.equals(prefixes, persistedFilled)) {
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
      store.putPartial(new PartialRecord(digest, repository, size, pieceSize, snapshot, clock.millis(), prefixes));
      synchronized (this) {
        persisted = snapshot;
        persistedFilled = prefixes;
      }
    } catch (IOException | RuntimeException e) {
      LOG.fine(() -> "could not record the pieces of " + digest.shortHex() + ": " + e);
    } finally {
      synchronized (this) {
        persisting = false;
      }
    }
  }

  /**
   * Per piece, the prefix written so far of each piece not done, 0 for done ones (recorded in the piece map: issue 18,
   * a SIGKILL lost every byte of the pieces in flight). A piece being checked against its published hash counts as not
   * written: its bytes may yet be thrown away. Caller holds the lock.
   */
  private int[] filledOfUnfinished() {
    int[] out = new int[filled.length];
    for (int p = 0; p < filled.length; p++) {
      out[p] = done.get(p) || checking.get(p) ? 0 : (int) filled[p];
    }
    return out;
  }

  private synchronized void upstreamBytesAdd(long n) {
    upstreamBytes += n;
  }

  private synchronized void peerBytesAdd(long n) {
    peerBytes += n;
  }

  /** Bytes of this blob fetched from peers so far. */
  public synchronized long peerBytes() {
    return peerBytes;
  }

  /** Bytes of this blob fetched from upstream so far. */
  public synchronized long upstreamBytes() {
    return upstreamBytes;
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
        int n = channel.write(bb, at);
        at += n;
        space.wrote(digest, n);
      } catch (IOException e) {
        if (!isDiskFull(e) || attempts++ >= 2) {
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

  private static boolean isDiskFull(IOException e) {
    String m = String.valueOf(e.getMessage());
    return m.contains("No space left") || m.contains("Disk quota");
  }

  /**
   * What a failure of the cache's own disk means to a client: 507 for a disk that is full or cannot be written (a
   * read-only file system), 500 for anything else; never 502, which blames the upstream (issue 18).
   */
  private static ErrorCode storageCode(IOException e) {
    return isDiskFull(e) || String.valueOf(e.getMessage()).contains("Read-only file system") ? ErrorCode.INSUFFICIENT_STORAGE
        : ErrorCode.INTERNAL_ERROR;
  }

  /**
   * Bytes {@code [pos, pos+len)} are in the file: advance the pieces they extend, wake readers waiting on them,
   * and hash further if a piece completed.
   */
  private void onWritten(long pos, int len, String source) {
    List<Waiter> wake = new ArrayList<>();
    boolean newlyDone = false;
    List<Integer> check = null;
    synchronized (this) {
      if (state != State.FETCHING) {
        return;
      }
      long endPos = pos + len;
      for (int p = layout.pieceAt(pos); p <= layout.pieceAt(endPos - 1); p++) {
        long s = layout.start(p);
        long reach = Math.min(layout.length(p), endPos - s);
        if (pos <= s + filled[p] && reach > filled[p]) {
          if (filled[p] == 0) {
            sourceOf[p] = source;
          } else if (!source.equals(sourceOf[p])) {
            sourceOf[p] = MIXED;
          }
          filled[p] = reach;
          if (reach == layout.length(p) && !done.get(p) && !checking.get(p)) {
            taken.set(p);
            if (checkList != null) {
              // bytes from a peer (or anyone, once a hash list exists) are readable only after their piece checked
              checking.set(p);
              if (check == null) {
                check = new ArrayList<>();
              }
              check.add(p);
            } else {
              done.set(p);
              newlyDone = true;
            }
          }
        }
        collectWaiters(p, wake);
      }
    }
    for (Waiter w : wake) {
      w.wake();
    }
    if (check != null) {
      for (int p : check) {
        io.execute(() -> checkPiece(p));
      }
    }
    if (newlyDone) {
      kickHasher();
    }
  }

  /** Moves the waiters of piece {@code p} that can read now to {@code wake}. Caller holds the lock. */
  private void collectWaiters(int p, List<Waiter> wake) {
    List<Waiter> ws = waiters.get(p);
    if (ws == null) {
      return;
    }
    ws.removeIf(w -> {
      if (availableAt(w.position) > 0) {
        wake.add(w);
        return true;
      }
      return false;
    });
    if (ws.isEmpty()) {
      waiters.remove(p);
    }
  }

  /**
   * Checks a piece that just arrived against the published hash list (on the io executor). A piece that matches
   * becomes readable; one that does not is thrown away and fetched again from another source, and the peer that sent
   * it is penalised.
   */
  private void checkPiece(int p) {
    FileChannel ch;
    PeerNetwork.PieceHashes list;
    long start;
    int length;
    synchronized (this) {
      if (state != State.FETCHING) {
        return;
      }
      ch = channel;
      list = checkList;
      start = layout.start(p);
      length = layout.length(p);
    }
    byte[] actual;
    try {
      actual = sha256Of(ch, start, length);
    } catch (IOException e) {
      fail(new RegistryException(ErrorCode.INTERNAL_ERROR, "reading back piece " + p + " of " + digest.shortHex() + " failed: " + e.getMessage(), e));
      return;
    }
    boolean good = list.matches(p, actual);
    String source;
    List<Waiter> wake = new ArrayList<>();
    boolean retry = false;
    synchronized (this) {
      checking.clear(p);
      source = sourceOf[p];
      if (state != State.FETCHING) {
        return;
      }
      if (good) {
        done.set(p);
        collectWaiters(p, wake);
      } else {
        filled[p] = 0;
        sourceOf[p] = null;
        attempts[p]++;
        retry = attempts[p] < config.maxPieceAttempts();
        taken.clear(p);
      }
    }
    if (good) {
      for (Waiter w : wake) {
        w.wake();
      }
      kickHasher();
      return;
    }
    boolean fromPeer = source != null && source != UPSTREAM && source != MIXED;
    if (fromPeer) {
      metrics.peerPieceFailure(source, "digest");
    } else {
      metrics.digestMismatch(); // upstream sent it (or several sources did): caught a piece early, before any client saw it
    }
    LOG.warning(() -> "piece " + p + " of " + digest + " from " + (fromPeer ? "peer " + source : source == MIXED ? "several sources" : "upstream")
        + " does not match the published piece hash; fetching it again" + (fromPeer ? " elsewhere" : ""));
    if (fromPeer) {
      peers.penalise(source, "sent a corrupt piece of " + digest.shortHex());
      synchronized (this) {
        List<PeerNetwork.Holder> keep = new ArrayList<>();
        for (PeerNetwork.Holder h : view.holders()) {
          if (!h.node().equals(source)) {
            keep.add(h);
          }
        }
        view = new PeerNetwork.View(view.size(), keep, source.equals(view.fetcher()) ? null : view.fetcher(), view.hashes());
      }
    }
    if (!retry) {
      fail(new RegistryException(ErrorCode.BLOB_CORRUPT, "blob " + digest + ": piece " + p + " arrived corrupt "
          + config.maxPieceAttempts() + " times; nothing of it was served or kept"));
      return;
    }
    pump();
    refreshView();
  }

  private static byte[] sha256Of(FileChannel ch, long start, int length) throws IOException {
    return Sha256.ofRange(ch, start, length, ByteBuffer.allocate((int) Math.max(1, Math.min(HASH_CHUNK, length))), n -> {}).bytes();
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
    try {
      Sha256.update(sha, ch, from, to, ByteBuffer.allocate((int) Math.max(1, Math.min(HASH_CHUNK, to - from))), n -> {});
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
    boolean publish;
    synchronized (this) {
      // a node that fetched from upstream (or took the blob from complete holders only) publishes the piece list; one
      // that only streamed from the node fetching it leaves that to it
      publish = peers != null && checkList == null && (upstreamBytes > 0 || !streamedFromFetcher);
    }
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
    long fromPeers = peerBytes();
    LOG.info(() -> String.format("committed %s (%d bytes) in %d ms, %d bytes from upstream%s", digest, size, took, fetched,
        peers == null ? "" : ", " + fromPeers + " from peers"));
    if (peers != null) {
      peers.committed(digest, size);
      if (publish) {
        int pieceSize = layout.pieceSize();
        io.execute(() -> publishPieceHashes(size, pieceSize));
      }
    }
    completion.tryComplete(record);
    for (Waiter w : wake) {
      w.wake();
    }
    if (close) {
      closeQuietly(ch);
    }
  }

  /**
   * Hashes each piece of the committed blob and publishes the list, after the commit and off the path of any
   * response (the whole-blob hash already ran; these are a second pass, from the page cache). On the io executor.
   */
  private void publishPieceHashes(long size, int pieceSize) {
    PieceLayout l = new PieceLayout(size, pieceSize);
    byte[] all = new byte[l.count() * 32];
    try (FileChannel f = FileChannel.open(store.blobPath(digest), java.nio.file.StandardOpenOption.READ)) {
      for (int q = 0; q < l.count(); q++) {
        System.arraycopy(sha256Of(f, l.start(q), l.length(q)), 0, all, q * 32, 32);
      }
    } catch (IOException e) {
      LOG.fine(() -> "no piece hashes for " + digest.shortHex() + ": " + e); // evicted already, most likely
      return;
    }
    peers.publishPieceHashes(digest, new PeerNetwork.PieceHashes(size, pieceSize, all));
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
    if (peerTimer != -1) {
      vertx.cancelTimer(peerTimer);
      peerTimer = -1;
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
    if (peers != null) {
      peers.dropProgress(digest);
      peers.release(digest);
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
    return UpstreamException.toRegistryError(t, "blob " + digest.shortHex(), ErrorCode.BLOB_UNKNOWN);
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
  public synchronized Reader tryOpenReader() {
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
    if (off >= filled[p] || (checkList != null && !done.get(p))) {
      return 0;
    }
    long avail = filled[p] - off;
    if (filled[p] == layout.length(p)) {
      for (int q = p + 1; q < layout.count() && filled[q] > 0 && (checkList == null || done.get(q)); q++) {
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
