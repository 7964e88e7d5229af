package io.pullmesh.metrics;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * Everything pullmesh measures, as calls. Implementations must be thread-safe and cheap: these are called
 * on event loops for every chunk of every transfer.
 */
public interface MetricsRecorder {

  /** Where bytes served to a client came from. */
  enum Source {
    CACHE, INFLIGHT,
    /** To a peer of the mesh, from a partial copy (counted as {@link #peerServedBytes}, not as served to clients). */
    PEER;

    String tag() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /**
   * Bytes received from an upstream registry.
   *
   * @param registry the upstream's label: a configured registry key or host, never a CDN host (a bounded set)
   */
  void upstreamBytes(String registry, String kind, long bytes);

  /** A request sent to an upstream registry (or the CDN it redirected to), labelled as {@link #upstreamBytes}. */
  void upstreamRequest(String registry, String kind, String status);

  void servedBytes(Source source, long bytes);

  void blobRequest(String result);

  void manifestRequest(String result);

  void downloadFinished(String outcome, Duration duration);

  void pieceRetry(String reason);

  void stall();

  void relocation();

  void digestMismatch();

  void rangeFallback();

  void httpRequest(String route, String method, int status, long nanos);

  /** A blob was evicted, for {@code reason} (over-limit, room, disk-full, operator). */
  void eviction(String reason, long bytes);

  /** A CONNECT to the forward proxy and what became of it: intercepted, tunnelled, refused, unreachable, bad. */
  default void proxyConnect(String outcome) {}

  /** Blob bytes received from a peer of the mesh. */
  default void peerBytes(long bytes) {}

  /** Blob bytes this node served to a peer of the mesh. */
  default void peerServedBytes(long bytes) {}

  /** A piece from {@code peer} failed: {@code reason} is "digest" (bytes did not match its hash) or "error". */
  default void peerPieceFailure(String peer, String reason) {}

  /** A committed blob re-hashed in the background or before a peer serve: {@code result} good, corrupt or unreadable. */
  default void scrubbed(String result, long bytes) {}

  /**
   * Registers the scrub's counters at zero, so that the first corrupt blob is an increase Prometheus sees (a series born
   * at 1 has no increase) and the alert on it fires.
   */
  default void scrubCounters() {}

  /** Registers the gauge of peers in the mesh (other nodes); the supplier must be non-blocking. */
  default void meshPeers(LongSupplier peers) {}

  /** Registers the gauge that is 1 while the cache can take new blobs, 0 while its disk is full or read-only. */
  default void cacheWritable(java.util.function.BooleanSupplier writable) {}

  /**
   * Registers the gauges of the downloads' flow: the upstream cap and the measured upstream rate (bytes per second), the
   * download buffer memory held and its budget (bytes). The suppliers must be thread-safe and non-blocking.
   */
  default void downloadFlow(LongSupplier rateLimit, LongSupplier rate, LongSupplier bufferHeld, LongSupplier bufferLimit) {}

  /** Registers the cache limit gauge. */
  void cacheLimit(LongSupplier limitBytes);

  /** Total bytes served to clients so far, all sources (0 where nothing is recorded). */
  long servedBytesTotal();

  /** Total blob bytes received from upstream so far (0 where nothing is recorded). */
  long upstreamBlobBytesTotal();

  /** Registers gauges read on scrape; the suppliers must be thread-safe and non-blocking. */
  void gauges(LongSupplier activeDownloads, LongSupplier cacheBytes, LongSupplier cacheBlobs);

  /** A recorder that records nothing. */
  static MetricsRecorder noop() {
    return NoopMetricsRecorder.INSTANCE;
  }
}
