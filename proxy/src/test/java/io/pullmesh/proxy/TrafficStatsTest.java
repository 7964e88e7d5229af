package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.pullmesh.metrics.MetricsRecorder;
import io.pullmesh.metrics.MicrometerMetricsRecorder;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

class TrafficStatsTest {
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final MicrometerMetricsRecorder metrics = new MicrometerMetricsRecorder(registry);
  private final TrafficStats stats = new TrafficStats(registry, metrics, () -> null, null);

  @Test
  void beforeAnythingIsServedTheRatiosAreUnknownNotZero() {
    JsonObject t = stats.traffic();
    assertEquals(0L, t.getLong("servedBytes"));
    assertNull(t.getValue("hitRatio"));
    assertNull(t.getValue("byteHitRatio"));
    assertEquals(new JsonObject().put("hit", 0L).put("inflight", 0L).put("miss", 0L), t.getJsonObject("blobRequests"));
  }

  @Test
  void onlyAnswersFromCommittedBlobsCountAsHitsAndSavedBytesAreWhatUpstreamDidNotCarry() {
    metrics.blobRequest("hit");
    metrics.blobRequest("inflight");
    metrics.blobRequest("inflight");
    metrics.blobRequest("miss");
    metrics.servedBytes(MetricsRecorder.Source.CACHE, 3000);
    metrics.servedBytes(MetricsRecorder.Source.INFLIGHT, 1000);
    metrics.upstreamBytes("registry.ollama.ai", "blob", 1000);
    metrics.upstreamBytes("registry.ollama.ai", "manifest", 500);

    JsonObject t = stats.traffic();

    assertEquals(new JsonObject().put("hit", 1L).put("inflight", 2L).put("miss", 1L), t.getJsonObject("blobRequests"));
    assertEquals(0.25, t.getDouble("hitRatio"));
    assertEquals(4000L, t.getLong("servedBytes"));
    assertEquals(1000L, t.getLong("upstreamBytes"), "blob bytes only: manifests are not what a hit saves");
    assertEquals(3000L, t.getLong("savedBytes"));
    assertEquals(0.75, t.getDouble("byteHitRatio"));
  }

  @Test
  void moreFetchedThanServedSavesNothingRatherThanANegativeAmount() {
    metrics.servedBytes(MetricsRecorder.Source.INFLIGHT, 100);
    metrics.upstreamBytes("hf.co", "blob", 400);
    JsonObject t = stats.traffic();
    assertEquals(0L, t.getLong("savedBytes"));
    assertEquals(0.0, t.getDouble("byteHitRatio"));
  }

  @Test
  void aNodeOutsideAMeshHasNoPeers() {
    metrics.peerBytes(10);
    assertNull(stats.peers());
  }
}
