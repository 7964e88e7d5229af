package io.pullmesh.metrics;

/**
 * Every meter pullmesh registers, by its Micrometer name. Prometheus sees dots as underscores and counters
 * with a {@code _total} suffix: {@code pullmesh.upstream.bytes} is scraped as {@code pullmesh_upstream_bytes_total}.
 */
public final class MeterNames {
  private MeterNames() {}

  /**
   * Counter: bytes of blob and manifest bodies received from upstream. Tags {@code registry} (the upstream's label: the
   * {@code --upstream} host, or a {@code --upstreams} key such as {@code hf.co}), {@code kind}: blob, manifest.
   */
  public static final String UPSTREAM_BYTES = "pullmesh.upstream.bytes";
  /**
   * Counter: requests sent upstream. Tags {@code registry} (as for {@link #UPSTREAM_BYTES}), {@code kind} (manifest,
   * locate, piece, stream, token), {@code status} (HTTP status or "error").
   */
  public static final String UPSTREAM_REQUESTS = "pullmesh.upstream.requests";
  /** Counter: blob bytes written to clients. Tag {@code source}: cache (committed file), inflight (a download in progress). */
  public static final String SERVED_BYTES = "pullmesh.served.bytes";
  /** Counter: blob GET requests. Tag {@code result}: hit (committed), inflight (joined a download), miss (started one). */
  public static final String BLOB_REQUESTS = "pullmesh.blob.requests";
  /**
   * Counter: manifest requests. Tag {@code result}: hit, miss, revalidated, updated, stale, revalidating, peer, refused,
   * error.
   */
  public static final String MANIFEST_REQUESTS = "pullmesh.manifest.requests";
  /** Gauge: downloads in progress. */
  public static final String DOWNLOADS_ACTIVE = "pullmesh.downloads.active";
  /** Counter: finished downloads. Tag {@code outcome}: committed, failed, corrupt, cancelled. */
  public static final String DOWNLOADS = "pullmesh.downloads";
  /** Timer: time from first upstream request to commit, for committed downloads. */
  public static final String DOWNLOAD_DURATION = "pullmesh.download.duration";
  /** Counter: piece fetches that failed and were retried. Tag {@code reason}: status, error, timeout, short. */
  public static final String PIECE_RETRIES = "pullmesh.piece.retries";
  /** Counter: upstream connections closed for making no progress within the stall timeout. */
  public static final String STALLS = "pullmesh.piece.stalls";
  /** Counter: presigned blob URLs re-resolved because the CDN refused them. */
  public static final String RELOCATIONS = "pullmesh.upstream.relocations";
  /** Counter: downloads whose bytes did not hash to their digest (discarded, never committed). */
  public static final String DIGEST_MISMATCHES = "pullmesh.digest.mismatches";
  public static final String PEER_BYTES = "pullmesh.peer.bytes";
  public static final String PEER_SERVED_BYTES = "pullmesh.peer.served.bytes";
  public static final String PEER_PIECE_FAILURES = "pullmesh.peer.piece.failures";
  public static final String MESH_PEERS = "pullmesh.mesh.peers";
  /** Counter: downloads that fell back to one whole-body stream because the upstream ignored Range. */
  public static final String RANGE_FALLBACKS = "pullmesh.upstream.range.fallbacks";
  /** Gauge: bytes of committed blobs in the cache. */
  public static final String CACHE_BYTES = "pullmesh.cache.bytes";
  /** Gauge: committed blobs in the cache. */
  public static final String CACHE_BLOBS = "pullmesh.cache.blobs";
  /** Gauge: the cache size limit in bytes. */
  public static final String CACHE_LIMIT = "pullmesh.cache.limit.bytes";
  /** Counter: blobs evicted. Tag {@code reason}: over-the-limit, room-for-download, disk-full, operator. */
  public static final String EVICTIONS = "pullmesh.cache.evictions";
  /** Counter: bytes evicted. */
  public static final String EVICTED_BYTES = "pullmesh.cache.evicted.bytes";
  /** Timer: HTTP requests served. Tags {@code route} (manifest, blob, base, healthz, metrics, other), {@code method}, {@code status}. */
  public static final String HTTP_REQUESTS = "pullmesh.http.requests";
  /** Counter: CONNECT requests to the forward proxy. Tag {@code outcome}: intercepted, tunnelled, refused, unreachable, bad. */
  public static final String PROXY_CONNECTS = "pullmesh.proxy.connects";

  /** Counter: committed blobs re-hashed (background scrub, or before a first serve to a peer). Tag {@code result}: good, corrupt, unreadable. */
  public static final String SCRUB_BLOBS = "pullmesh.scrub.blobs";
  /** Counter: bytes re-hashed by the scrub. */
  public static final String SCRUB_BYTES = "pullmesh.scrub.bytes";
  /** Gauge: 1 while the cache can take new blobs, 0 while its disk is full (under the index's reserve) or read-only. */
  public static final String CACHE_WRITABLE = "pullmesh.cache.writable";

  /** Gauge: the node's cap on blob bytes per second from upstream ({@code --upstream-rate}); 0 for none. */
  public static final String UPSTREAM_RATE_LIMIT = "pullmesh.upstream.rate.limit";
  /** Gauge: blob bytes per second received from upstream by the node, over the last few seconds. */
  public static final String UPSTREAM_RATE = "pullmesh.upstream.rate";
  /** Gauge: download bytes reserved or held in memory between the network and the disk. */
  public static final String DOWNLOAD_BUFFER = "pullmesh.download.buffer";
  /** Gauge: the budget for {@link #DOWNLOAD_BUFFER} ({@code --download-buffer-memory}); 0 for none. */
  public static final String DOWNLOAD_BUFFER_LIMIT = "pullmesh.download.buffer.limit";
}
