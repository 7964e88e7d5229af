package io.pullmesh.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Records into the {@link MeterRegistry} it is given (never the global one). Counters are looked up once
 * per tag combination and cached, so the per-chunk calls cost a map lookup and an atomic add.
 */
public final class MicrometerMetricsRecorder implements MetricsRecorder {
  private final MeterRegistry registry;
  private final Map<String, Counter> counters = new ConcurrentHashMap<>();
  private final Map<String, Timer> timers = new ConcurrentHashMap<>();

  public MicrometerMetricsRecorder(MeterRegistry registry) {
    this.registry = registry;
  }

  public MeterRegistry registry() {
    return registry;
  }

  private Counter counter(String name, String description, String... tags) {
    String key = name + '|' + String.join("|", tags);
    return counters.computeIfAbsent(key, k -> Counter.builder(name).description(description).tags(tags).register(registry));
  }

  @Override
  public void upstreamBytes(String registry, String kind, long bytes) {
    counter(MeterNames.UPSTREAM_BYTES, "Bytes received from upstream", "registry", registry, "kind", kind).increment(bytes);
  }

  @Override
  public void upstreamRequest(String registry, String kind, String status) {
    counter(MeterNames.UPSTREAM_REQUESTS, "Requests sent upstream", "registry", registry, "kind", kind, "status", status).increment();
  }

  @Override
  public void servedBytes(Source source, long bytes) {
    if (source == Source.PEER) {
      peerServedBytes(bytes);
      return;
    }
    counter(MeterNames.SERVED_BYTES, "Blob bytes written to clients", "source", source.tag()).increment(bytes);
  }

  @Override
  public void blobRequest(String result) {
    counter(MeterNames.BLOB_REQUESTS, "Blob GET requests by cache result", "result", result).increment();
  }

  @Override
  public void manifestRequest(String result) {
    counter(MeterNames.MANIFEST_REQUESTS, "Manifest requests by cache result", "result", result).increment();
  }

  @Override
  public void downloadFinished(String outcome, Duration duration) {
    counter(MeterNames.DOWNLOADS, "Finished downloads by outcome", "outcome", outcome).increment();
    if ("committed".equals(outcome)) {
      timers.computeIfAbsent(MeterNames.DOWNLOAD_DURATION, k -> Timer.builder(k)
          .description("Time from first upstream request to commit")
          .publishPercentileHistogram()
          // a large model's layer takes minutes: buckets up to an hour, not Micrometer's default 30 s
          .maximumExpectedValue(Duration.ofHours(1))
          .register(registry)).record(duration);
    }
  }

  @Override
  public void pieceRetry(String reason) {
    counter(MeterNames.PIECE_RETRIES, "Piece fetches retried", "reason", reason).increment();
  }

  @Override
  public void proxyConnect(String outcome) {
    counter(MeterNames.PROXY_CONNECTS, "CONNECT requests to the forward proxy by outcome", "outcome", outcome).increment();
  }

  @Override
  public void stall() {
    counter(MeterNames.STALLS, "Upstream connections closed for making no progress").increment();
  }

  @Override
  public void relocation() {
    counter(MeterNames.RELOCATIONS, "Presigned blob URLs re-resolved").increment();
  }

  @Override
  public void digestMismatch() {
    counter(MeterNames.DIGEST_MISMATCHES, "Downloads whose bytes did not match their digest").increment();
  }

  @Override
  public void peerBytes(long bytes) {
    counter(MeterNames.PEER_BYTES, "Blob bytes received from peers of the mesh").increment(bytes);
  }

  @Override
  public void peerServedBytes(long bytes) {
    counter(MeterNames.PEER_SERVED_BYTES, "Blob bytes served to peers of the mesh").increment(bytes);
  }

  @Override
  public void peerPieceFailure(String peer, String reason) {
    counter(MeterNames.PEER_PIECE_FAILURES, "Pieces from a peer that failed (reason=digest: bytes did not match the piece hash)",
        "peer", peer, "reason", reason).increment();
  }

  @Override
  public void meshPeers(LongSupplier peers) {
    io.micrometer.core.instrument.Gauge.builder(MeterNames.MESH_PEERS, () -> (double) peers.getAsLong())
        .description("Other nodes in the mesh now").register(registry);
  }

  @Override
  public void rangeFallback() {
    counter(MeterNames.RANGE_FALLBACKS, "Downloads that fell back to a single stream").increment();
  }

  @Override
  public void httpRequest(String route, String method, int status, long nanos) {
    String key = route + '|' + method + '|' + status;
    timers.computeIfAbsent(key, k -> Timer.builder(MeterNames.HTTP_REQUESTS)
        .description("HTTP requests served")
        .tags("route", route, "method", method, "status", Integer.toString(status))
        .publishPercentileHistogram()
        .register(registry)).record(nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void eviction(String reason, long bytes) {
    counter(MeterNames.EVICTIONS, "Blobs evicted", "reason", evictionReason(reason)).increment();
    counter(MeterNames.EVICTED_BYTES, "Bytes evicted").increment(bytes);
  }

  /**
   * The {@code reason} tag of an eviction, one of a fixed few: over-the-limit, room-for-download, disk-full,
   * operator (other for anything else), whatever the caller's spelling: a reason that named a blob ("room for
   * 54aa65edee26") would start a new series for every blob.
   */
  static String evictionReason(String reason) {
    String r = reason.toLowerCase(java.util.Locale.ROOT).replace(' ', '-');
    if (r.startsWith("room-for")) {
      return "room-for-download";
    }
    return switch (r) {
      case "over-the-limit", "disk-full", "operator" -> r;
      default -> "other";
    };
  }

  @Override
  public void cacheLimit(LongSupplier limitBytes) {
    Gauge.builder(MeterNames.CACHE_LIMIT, limitBytes, s -> s.getAsLong()).description("The cache size limit").baseUnit("bytes")
        .strongReference(true).register(registry);
  }

  @Override
  public void downloadFlow(LongSupplier rateLimit, LongSupplier rate, LongSupplier bufferHeld, LongSupplier bufferLimit) {
    Gauge.builder(MeterNames.UPSTREAM_RATE_LIMIT, rateLimit, r -> r.getAsLong())
        .description("Cap on blob bytes per second from upstream (--upstream-rate), 0 for none").strongReference(true).register(registry);
    Gauge.builder(MeterNames.UPSTREAM_RATE, rate, r -> r.getAsLong())
        .description("Blob bytes per second received from upstream, over the last few seconds").strongReference(true).register(registry);
    Gauge.builder(MeterNames.DOWNLOAD_BUFFER, bufferHeld, r -> r.getAsLong()).baseUnit("bytes")
        .description("Download bytes reserved or held in memory between the network and the disk").strongReference(true).register(registry);
    Gauge.builder(MeterNames.DOWNLOAD_BUFFER_LIMIT, bufferLimit, r -> r.getAsLong()).baseUnit("bytes")
        .description("Budget for download bytes in memory (--download-buffer-memory), 0 for none").strongReference(true).register(registry);
  }

  @Override
  public void cacheWritable(java.util.function.BooleanSupplier writable) {
    Gauge.builder(MeterNames.CACHE_WRITABLE, writable, w -> w.getAsBoolean() ? 1 : 0)
        .description("1 while the cache can take new blobs, 0 while its disk is full or read-only").strongReference(true).register(registry);
  }

  @Override
  public void scrubCounters() {
    for (String r : new String[] {"good", "corrupt", "unreadable"}) {
      counter(MeterNames.SCRUB_BLOBS, "Committed blobs re-hashed for bit rot", "result", r);
    }
    counter(MeterNames.SCRUB_BYTES, "Bytes re-hashed for bit rot");
  }

  @Override
  public void scrubbed(String result, long bytes) {
    counter(MeterNames.SCRUB_BLOBS, "Committed blobs re-hashed for bit rot", "result", result).increment();
    counter(MeterNames.SCRUB_BYTES, "Bytes re-hashed for bit rot").increment(bytes);
  }

  @Override
  public long servedBytesTotal() {
    return (long) registry.find(MeterNames.SERVED_BYTES).counters().stream().mapToDouble(Counter::count).sum();
  }

  @Override
  public long upstreamBlobBytesTotal() {
    return (long) registry.find(MeterNames.UPSTREAM_BYTES).tag("kind", "blob").counters().stream().mapToDouble(Counter::count).sum();
  }

  @Override
  public void gauges(LongSupplier activeDownloads, LongSupplier cacheBytes, LongSupplier cacheBlobs) {
    // strong references: Micrometer holds gauge objects weakly, and these lambdas have no other owner
    Gauge.builder(MeterNames.DOWNLOADS_ACTIVE, activeDownloads, s -> s.getAsLong()).description("Downloads in progress")
        .strongReference(true).register(registry);
    Gauge.builder(MeterNames.CACHE_BYTES, cacheBytes, s -> s.getAsLong()).description("Bytes of committed blobs").baseUnit("bytes")
        .strongReference(true).register(registry);
    Gauge.builder(MeterNames.CACHE_BLOBS, cacheBlobs, s -> s.getAsLong()).description("Committed blobs")
        .strongReference(true).register(registry);
  }
}
