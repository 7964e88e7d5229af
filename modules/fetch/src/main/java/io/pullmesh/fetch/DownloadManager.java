package io.pullmesh.fetch;

import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.metrics.MetricsRecorder;
import io.pullmesh.store.BlobRecord;
import io.pullmesh.store.BlobStore;
import io.pullmesh.store.PartialRecord;
import io.pullmesh.store.SpaceManager;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.DoubleSupplier;
import java.util.logging.Logger;

/**
 * One download per digest, however many clients ask (single-flight). {@link #open} answers with the committed
 * blob, or with a reader attached to the download in progress (starting one if none runs). A download whose
 * bytes did not match their digest is started again at once, up to {@link #MAX_CORRUPT_STREAK} times in a row.
 */
public final class DownloadManager {
  private static final Logger LOG = Logger.getLogger(DownloadManager.class.getName());
  /** Consecutive digest mismatches after which a blob is only refetched when a client asks again. */
  static final int MAX_CORRUPT_STREAK = 3;
  private static final long LOCATION_TTL_MS = 60_000;
  private static final int MAX_REMEMBERED_LOCATIONS = 1024;

  /** What {@link #open} found. */
  public sealed interface Lookup {
    /** The blob is in the cache: serve {@code path}. */
    record Committed(BlobRecord record, Path path) implements Lookup {}

    /**
     * The blob is downloading: read it through {@code reader} (close it when done).
     *
     * @param started true when this call started the download (a cache miss)
     */
    record InFlight(BlobDownload download, BlobDownload.Reader reader, boolean started) implements Lookup {}
  }

  private record Remembered(BlobLocation location, long at) {}

  private final Vertx vertx;
  private final UpstreamRouter upstreams;
  private final BlobStore store;
  private final Clock clock;
  private final BlobDownload.Kit kit;
  private static final long RATE_SAMPLE_MS = 1000;
  private final LanePacer pacer;
  private final MetricsRecorder metrics;
  private final RateMeter upstreamRate = new RateMeter();
  private final Map<Digest, BlobDownload> active = new ConcurrentHashMap<>();
  private final Map<Digest, Integer> corruptStreak = new ConcurrentHashMap<>();
  private final Map<Digest, Remembered> locations = new ConcurrentHashMap<>();
  private volatile java.util.function.Consumer<Digest> committedListener = d -> {};
  private volatile PeerNetwork peers;

  public DownloadManager(Vertx vertx, UpstreamRouter upstreams, BlobStore store, SpaceManager space, Executor io,
      MetricsRecorder metrics, FetchConfig config, Clock clock, DoubleSupplier random) {
    this.vertx = vertx;
    this.upstreams = upstreams;
    this.store = store;
    this.clock = clock;
    Timers timers = Timers.of(vertx);
    this.pacer = new LanePacer(config.upstreamRate(), config.bufferMemory(), timers, System::nanoTime);
    this.kit = new BlobDownload.Kit(vertx, store, space, io, timers, System::nanoTime, clock, metrics, config,
        new RetryPolicy(config.maxPieceAttempts(), new Backoff(config.backoffBase(), config.backoffMax(), random)), pacer);
    this.metrics = metrics;
    vertx.setPeriodic(RATE_SAMPLE_MS, id -> sampleUpstreamRate());
  }

  private void sampleUpstreamRate() {
    long bytes = metrics.upstreamBlobBytesTotal();
    synchronized (upstreamRate) {
      upstreamRate.sample(System.nanoTime(), bytes);
    }
  }

  /** The node's cap on blob bytes from upstream, bytes per second ({@code --upstream-rate}); 0 for none. */
  public long upstreamRateLimit() {
    return pacer.rateLimit();
  }

  /** Blob bytes per second received from upstream by the whole node, over the last few seconds. */
  public long upstreamRate() {
    synchronized (upstreamRate) {
      return upstreamRate.bytesPerSecond();
    }
  }

  /** Download bytes reserved or held in memory now, between socket and disk ({@code --download-buffer-memory}). */
  public long bufferHeld() {
    return pacer.bufferHeld();
  }

  /** The budget for {@link #bufferHeld()}, bytes; 0 for none. */
  public long bufferLimit() {
    return pacer.bufferLimit();
  }

  /** The most {@link #bufferHeld()} has been since start. */
  public long bufferPeak() {
    return pacer.bufferPeak();
  }

  /**
   * The committed blob or a reader on its download.
   *
   * @return fails with the download's {@link RegistryException} when it cannot start or already failed
   *     (BLOB_UNKNOWN when upstream has no such blob, UPSTREAM_ERROR, ...)
   */
  public Future<Lookup> open(RepositoryName repo, Digest digest) {
    return open(repo, digest, null);
  }

  /**
   * As {@link #open(RepositoryName, Digest)}, for a client whose User-Agent goes upstream with the requests of a download
   * this call starts (null: the configured one).
   */
  public Future<Lookup> open(RepositoryName repo, Digest digest, String userAgent) {
    return Futures.onCallerContext(vertx, lookup(repo, digest, true, userAgent));
  }

  /**
   * @param mayWait whether a request that finds a download already failed may wait for it to clear away and look
   *     again (once): the failed download stays listed until its pieces are recorded or deleted, and by then a
   *     refetch (after a digest mismatch) or a fresh attempt can serve this request instead of its error
   */
  private Future<Lookup> lookup(RepositoryName repo, Digest digest, boolean mayWait, String userAgent) {
    BlobDownload running = active.get(digest);
    if (running != null && mayWait && running.state() == BlobDownload.State.FAILED) {
      return running.completion().transform(ar -> lookup(repo, digest, false, userAgent));
    }
    if (running != null) {
      return attach(running, false);
    }
    return vertx.executeBlocking(() -> store.lookup(digest), false).compose(found -> {
      if (found.isPresent()) {
        return Future.succeededFuture(new Lookup.Committed(found.get(), store.blobPath(digest)));
      }
      BlobDownload fresh = newDownload(repo, digest, userAgent);
      BlobDownload previous = active.putIfAbsent(digest, fresh);
      if (previous != null) {
        return attach(previous, false);
      }
      begin(fresh);
      return attach(fresh, true);
    });
  }

  private Future<Lookup> attach(BlobDownload download, boolean started) {
    return download.ready().compose(size -> {
      BlobDownload.Reader reader;
      try {
        reader = download.tryOpenReader();
      } catch (RegistryException e) {
        return Future.failedFuture(e);
      }
      if (reader != null) {
        return Future.succeededFuture(new Lookup.InFlight(download, reader, started));
      }
      return vertx.executeBlocking(() -> store.lookup(download.digest()), false).compose(found -> found.isPresent()
          ? Future.succeededFuture(new Lookup.Committed(found.get(), store.blobPath(download.digest())))
          : Future.failedFuture(new RegistryException(ErrorCode.INTERNAL_ERROR, "blob " + download.digest() + " was committed but is gone")));
    });
  }

  private BlobDownload newDownload(RepositoryName repo, Digest digest, String userAgent) {
    UpstreamRouter.Route route = upstreams.route(repo);
    PeerNetwork mesh = peers;
    return new BlobDownload(digest, repo, userAgent, BlobUpstream.of(route.upstream(), route.remote(), digest, userAgent),
        mesh == null ? MeshTie.ALONE : new PeerMeshTie(mesh, digest, kit.timers()), kit);
  }

  private void begin(BlobDownload download) {
    Digest d = download.digest();
    download.completion().onComplete(ar -> {
      active.remove(d, download);
      if (ar.succeeded()) {
        corruptStreak.remove(d);
        committedListener.accept(d);
        return;
      }
      RegistryException e = RegistryException.of(ar.cause());
      if (e.code() != ErrorCode.BLOB_CORRUPT) {
        return;
      }
      int streak = corruptStreak.merge(d, 1, Integer::sum);
      if (streak < MAX_CORRUPT_STREAK) {
        BlobDownload again = newDownload(download.repository(), d, download.userAgent());
        if (active.putIfAbsent(d, again) == null) {
          LOG.info(() -> "fetching " + d + " again after a digest mismatch (" + streak + " in a row)");
          begin(again);
        }
      } else {
        corruptStreak.remove(d);
        LOG.warning(() -> "upstream sent corrupt bytes for " + d + " " + streak + " times in a row; waiting for a client to ask again");
      }
    });
    download.start(takeLocation(d));
  }

  /**
   * The blob's size, for HEAD: from the download or cache, else from the size a manifest announced, else by
   * asking upstream (whose answer is remembered briefly so the GET that follows need not ask again).
   *
   * @return fails with {@link RegistryException}: BLOB_UNKNOWN (404), UPSTREAM_ERROR (502), UPSTREAM_TIMEOUT (504)
   */
  public Future<Long> size(RepositoryName repo, Digest digest) {
    return size(repo, digest, null);
  }

  /** As {@link #size(RepositoryName, Digest)}, asking upstream (if it must) with this client's User-Agent (null: the configured one). */
  public Future<Long> size(RepositoryName repo, Digest digest, String userAgent) {
    return Futures.onCallerContext(vertx, sizeOf(repo, digest, userAgent));
  }

  private Future<Long> sizeOf(RepositoryName repo, Digest digest, String userAgent) {
    BlobDownload running = active.get(digest);
    if (running != null) {
      return running.ready();
    }
    return vertx.executeBlocking(() -> {
      var rec = store.lookup(digest);
      if (rec.isPresent()) {
        return OptionalLong.of(rec.get().size());
      }
      return store.catalog().sizeHint(digest);
    }, false).compose(known -> {
      if (known.isPresent()) {
        return Future.succeededFuture(known.getAsLong());
      }
      UpstreamRouter.Route route = upstreams.route(repo);
      return route.upstream().locate(route.remote(), digest, userAgent).map(loc -> {
        rememberLocation(loc);
        return loc.size();
      }).recover(t -> Future.failedFuture(UpstreamException.toRegistryError(t, "upstream", ErrorCode.BLOB_UNKNOWN)));
    });
  }

  private void rememberLocation(BlobLocation loc) {
    if (locations.size() >= MAX_REMEMBERED_LOCATIONS) {
      locations.clear();
    }
    locations.put(loc.digest(), new Remembered(loc, clock.millis()));
  }

  private BlobLocation takeLocation(Digest d) {
    Remembered r = locations.remove(d);
    return r != null && clock.millis() - r.at < LOCATION_TTL_MS ? r.location() : null;
  }

  /**
   * Starts again, in the background, every download a previous run left unfinished (its pieces on disk are kept:
   * only the missing ones are fetched). Blocking for the index read; call once at start, off the event loop.
   *
   * @return how many downloads were resumed
   */
  public int resumePending() {
    int n = 0;
    for (PartialRecord r : store.partials()) {
      BlobDownload fresh = newDownload(r.repository(), r.digest(), null);
      if (active.putIfAbsent(r.digest(), fresh) == null) {
        LOG.info(() -> "resuming the download of " + r.digest() + " (" + r.repository() + ", " + r.done().cardinality()
            + " pieces on disk)");
        begin(fresh);
        n++;
      }
    }
    return n;
  }

  /**
   * Makes the pieces of every running download durable, so a restart resumes them. Blocking; call when shutting
   * down, before Vert.x closes.
   */
  public void persistAll() {
    for (BlobDownload d : active.values()) {
      d.persistPieces();
    }
  }

  /**
   * Makes downloads started from now on take pieces from the mesh's peers, and fetch from upstream only what no peer
   * has (and only on the one node that claimed the blob); null to run alone again.
   */
  public void usePeers(PeerNetwork peers) {
    this.peers = peers;
  }

  /** The download of {@code digest} running now, if any (what the peer data plane streams partial copies from). */
  public BlobDownload active(Digest digest) {
    return active.get(digest);
  }

  /** Called (on an event loop; keep it short) with each blob a download committed, e.g. to announce it to the mesh. */
  public void onCommitted(java.util.function.Consumer<Digest> listener) {
    this.committedListener = listener;
  }

  /** Downloads in progress. */
  public int activeCount() {
    return active.size();
  }

  public Collection<BlobDownload> downloads() {
    return new ArrayList<>(active.values());
  }
}
