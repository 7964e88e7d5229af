package io.pullmesh.fetch;

import io.pullmesh.metrics.MetricsRecorder;

/** The bytes one download took from upstream and from peers, counted as they arrive and told to the metrics. */
final class Traffic {
  private final MetricsRecorder metrics;
  private final String upstreamLabel;
  private long upstream;
  private long peers;

  Traffic(MetricsRecorder metrics, String upstreamLabel) {
    this.metrics = metrics;
    this.upstreamLabel = upstreamLabel;
  }

  void arrived(Source source, int bytes) {
    boolean up = source instanceof Source.Upstream;
    if (up) {
      metrics.upstreamBytes(upstreamLabel, "blob", bytes);
    } else {
      metrics.peerBytes(bytes);
    }
    synchronized (this) {
      upstream += up ? bytes : 0;
      peers += up ? 0 : bytes;
    }
  }

  synchronized long fromUpstream() {
    return upstream;
  }

  synchronized long fromPeers() {
    return peers;
  }
}
