package io.pullmesh.fetch;

import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.pullmesh.metrics.MetricsRecorder;
import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.logging.Logger;

/**
 * Where a download's lanes find the blob upstream: located at the start (with retries), again when the CDN refused an
 * expired URL (once for all the lanes that fail together, at most {@link FetchConfig#maxRelocations()} times), and for
 * the first time when a node that started from peers takes the upstream fetch over. Not for opening ranges (a
 * {@link RangeSource} at the location does) nor for deciding when to relocate ({@link RetryPolicy}).
 *
 * <p>Its fields are guarded by the download's lock ({@code guard}), as is the {@link DownloadState} it reads; it calls
 * its owner back outside it.
 */
final class Locating {
  private static final Logger LOG = Logger.getLogger(Locating.class.getName());

  /** What locating tells its download. */
  interface Owner {
    /** A location was found again or for the first time: go on, as one stream when {@code stream}. */
    void located(boolean stream);

    void fail(RegistryException e);
  }

  private final Object guard;
  private final DownloadState state;
  private final Owner owner;
  private final BlobUpstream upstream;
  private final Digest digest;
  private final Timers timers;
  private final RetryPolicy retry;
  private final MetricsRecorder metrics;
  private final int maxRelocations;

  private BlobLocation location;
  /** {@link #location} came from upstream (a download that started from peers has only a size until it needs upstream). */
  private boolean fromUpstream;
  private boolean locating;
  private boolean relocating;
  private int relocations;

  Locating(Object guard, DownloadState state, Owner owner, BlobUpstream upstream, Digest digest, BlobDownload.Kit kit) {
    this.guard = guard;
    this.state = state;
    this.owner = owner;
    this.upstream = upstream;
    this.digest = digest;
    this.timers = kit.timers();
    this.retry = kit.retry();
    this.metrics = kit.metrics();
    this.maxRelocations = kit.config().maxRelocations();
  }

  /** Finds the blob upstream, retrying what is worth retrying. */
  Future<BlobLocation> locate(int attempt) {
    return upstream.locate().recover(t -> {
      UpstreamException u = UpstreamException.classify(t, "blob " + digest.shortHex());
      if (!(retry.afterLocate(u, attempt) instanceof RetryPolicy.Action.Retry r)) {
        return Future.failedFuture(u);
      }
      metrics.pieceRetry(r.reason());
      Promise<BlobLocation> p = Promise.promise();
      timers.once(r.delayMs(), () -> locate(attempt + 1).onComplete(p));
      return p.future();
    });
  }

  /** The download opened its file at {@code loc}; under the lock. */
  void opened(BlobLocation loc, boolean upstreamLocation) {
    assert Thread.holdsLock(guard);
    location = loc;
    fromUpstream = upstreamLocation;
  }

  /** Where ranges go now (null before the file is open); under the lock. */
  BlobLocation location() {
    return location;
  }

  /** Whether this node has found the blob upstream; under the lock. */
  boolean found() {
    return fromUpstream;
  }

  /** Whether lanes must wait for a new location; under the lock. */
  boolean relocating() {
    return relocating;
  }

  /** Finds the blob upstream when this node became the one to fetch it after starting from peers. */
  void takeOver() {
    synchronized (guard) {
      if (locating || fromUpstream || !state.fetching()) {
        return;
      }
      locating = true;
    }
    locate(1).onComplete(ar -> {
      synchronized (guard) {
        locating = false;
      }
      use(ar, false);
    });
  }

  /**
   * The CDN refused the URL {@code used}: resolve the blob again, once for all lanes that fail together. A lane failing
   * on a URL that was already replaced just goes on with the new one.
   */
  void relocate(UpstreamException cause, BlobLocation used) {
    boolean giveUp;
    boolean start;
    synchronized (guard) {
      if (!state.fetching()) {
        return;
      }
      boolean fresh = !relocating && used == location;
      giveUp = fresh && relocations >= maxRelocations;
      start = fresh && !giveUp;
      if (start) {
        relocating = true;
        relocations++;
      }
    }
    if (giveUp) {
      owner.fail(UpstreamException.toRegistryError(new UpstreamException(UpstreamException.Kind.RETRYABLE, cause.status(),
          cause.getMessage() + " (re-resolved " + maxRelocations + " times already)", cause), what(), ErrorCode.BLOB_UNKNOWN));
      return;
    }
    if (!start) {
      owner.located(false);
      return;
    }
    metrics.relocation();
    LOG.info(() -> "re-resolving " + digest + ": " + cause.getMessage());
    locate(1).onComplete(ar -> {
      synchronized (guard) {
        relocating = false;
      }
      use(ar, true);
    });
  }

  /** A location found again ({@code again}) or for the first time (a takeover): use it, or fail. */
  private void use(AsyncResult<BlobLocation> ar, boolean again) {
    RegistryException error = null;
    boolean stream = false;
    synchronized (guard) {
      if (ar.failed()) {
        error = UpstreamException.toRegistryError(ar.cause(), what(), ErrorCode.BLOB_UNKNOWN);
      } else if (ar.result().size() != state.size()) {
        error = new RegistryException(ErrorCode.UPSTREAM_ERROR, "blob " + digest + ": upstream " + (again ? "now says " : "says ")
            + ar.result().size() + " bytes, " + (again ? "earlier " : "peers ") + state.size());
      } else {
        location = ar.result();
        fromUpstream = true;
        stream = !again && !location.rangeSupported();
      }
    }
    if (error != null) {
      owner.fail(error);
    } else {
      owner.located(stream);
    }
  }

  private String what() {
    return "blob " + digest.shortHex();
  }
}
