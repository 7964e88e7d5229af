package io.pullmesh.proxy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.pullmesh.metrics.MeterNames;
import io.pullmesh.metrics.MetricsRecorder;
import io.pullmesh.mesh.Mesh;
import io.vertx.core.json.JsonObject;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * The traffic figures of the admin API's stats and the status page: bytes served to clients and carried by upstream,
 * blob requests by cache result and the ratios they make, and this node's bytes to and from its mesh peers. Read from
 * the counters the metrics recorder keeps, at the time asked; keeps no count of its own. Not for counting anything
 * (the {@link MetricsRecorder} does), nor for the Prometheus exposition.
 */
final class TrafficStats {
  private final MeterRegistry registry;
  private final MetricsRecorder metrics;
  private final Supplier<Mesh> mesh;
  private final String meshName;

  /**
   * @param metrics the recorder counting into {@code registry}
   * @param mesh this node's mesh membership, null while it has none
   * @param meshName the mesh's name, or null when this node runs alone
   */
  TrafficStats(MeterRegistry registry, MetricsRecorder metrics, Supplier<Mesh> mesh, String meshName) {
    this.registry = registry;
    this.metrics = metrics;
    this.mesh = mesh;
    this.meshName = meshName;
  }

  /** Blob GETs answered so far with this cache result: hit, inflight (joined a download), miss (started one). */
  long blobRequests(String result) {
    Counter c = registry.find(MeterNames.BLOB_REQUESTS).tag("result", result).counter();
    return c == null ? 0 : (long) c.count();
  }

  /**
   * Bytes served and fetched, blob requests by result, the request hit ratio (answers from committed blobs only: one
   * client's 16 parts joining the download it started are "inflight", not hits) and the byte hit ratio (bytes served
   * that upstream did not carry: what the WAN saw); a ratio is null before anything was served.
   */
  JsonObject traffic() {
    long served = metrics.servedBytesTotal();
    long fetched = metrics.upstreamBlobBytesTotal();
    long hits = blobRequests("hit");
    long inflight = blobRequests("inflight");
    long misses = blobRequests("miss");
    long all = hits + inflight + misses;
    return new JsonObject().put("servedBytes", served).put("upstreamBytes", fetched)
        .put("savedBytes", Math.max(0, served - fetched))
        .put("blobRequests", new JsonObject().put("hit", hits).put("inflight", inflight).put("miss", misses))
        .put("hitRatio", all == 0 ? null : (double) hits / all)
        .put("byteHitRatio", served == 0 ? null : Math.max(0, (double) (served - fetched) / served));
  }

  /** The mesh as this node sees it (count of other nodes, mesh name, bytes to and from peers), or null when alone. */
  JsonObject peers() {
    Mesh m = mesh.get();
    if (m == null || meshName == null) {
      return null;
    }
    long in = sum(MeterNames.PEER_BYTES);
    long out = sum(MeterNames.PEER_SERVED_BYTES);
    int count = Math.max(0, m.members().size() - 1);
    return new JsonObject().put("count", count).put("mesh", meshName).put("node", m.node())
        .put("bytesFromPeers", in).put("bytesToPeers", out)
        .put("detail", "mesh " + meshName + " · " + mib(in) + " from peers · " + mib(out) + " to peers");
  }

  private long sum(String name) {
    return (long) registry.find(name).counters().stream().mapToDouble(Counter::count).sum();
  }

  private static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
  }
}
