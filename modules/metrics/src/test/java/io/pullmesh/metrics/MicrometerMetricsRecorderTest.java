package io.pullmesh.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class MicrometerMetricsRecorderTest {
  @Test
  void recordsIntoTheGivenRegistryOnly() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    MicrometerMetricsRecorder m = new MicrometerMetricsRecorder(registry);
    m.upstreamBytes("registry.ollama.ai", "blob", 100);
    m.upstreamBytes("registry.ollama.ai", "blob", 50);
    m.upstreamBytes("hf.co", "blob", 30);
    m.servedBytes(MetricsRecorder.Source.CACHE, 7);
    m.servedBytes(MetricsRecorder.Source.INFLIGHT, 3);
    m.digestMismatch();
    m.downloadFinished("committed", Duration.ofSeconds(2));
    m.httpRequest("blob", "GET", 206, 1_000_000);
    AtomicLong active = new AtomicLong(3);
    m.gauges(active::get, () -> 1000, () -> 2);

    assertEquals(150, registry.get(MeterNames.UPSTREAM_BYTES).tag("registry", "registry.ollama.ai").tag("kind", "blob").counter().count());
    assertEquals(30, registry.get(MeterNames.UPSTREAM_BYTES).tag("registry", "hf.co").counter().count());
    assertEquals(180, m.upstreamBlobBytesTotal(), "the total is over every registry");
    assertEquals(7, registry.get(MeterNames.SERVED_BYTES).tag("source", "cache").counter().count());
    assertEquals(3, registry.get(MeterNames.SERVED_BYTES).tag("source", "inflight").counter().count());
    assertEquals(1, registry.get(MeterNames.DIGEST_MISMATCHES).counter().count());
    assertEquals(1, registry.get(MeterNames.DOWNLOAD_DURATION).timer().count());
    assertEquals(1, registry.get(MeterNames.HTTP_REQUESTS).tag("status", "206").timer().count());
    assertEquals(3, registry.get(MeterNames.DOWNLOADS_ACTIVE).gauge().value());
    active.set(5);
    assertEquals(5, registry.get(MeterNames.DOWNLOADS_ACTIVE).gauge().value());
    assertEquals(1000, registry.get(MeterNames.CACHE_BYTES).gauge().value());
    // the suppliers must survive garbage collection (Micrometer keeps gauges weakly unless told otherwise)
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    assertEquals(5, registry.get(MeterNames.DOWNLOADS_ACTIVE).gauge().value(), "a capturing supplier is collectable unless held strongly");
    assertEquals(0, io.micrometer.core.instrument.Metrics.globalRegistry.getMeters().size());
  }

  @Test
  void evictionReasonsAreAFixedFewTagValuesNotOnePerBlob() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    MicrometerMetricsRecorder m = new MicrometerMetricsRecorder(registry);
    // what the proxy passes on from the space manager: "room for <digest>" with spaces made dashes
    m.eviction("room-for-54aa65edee26", 100);
    m.eviction("room for 811001bac7f8", 50);
    m.eviction("over-the-limit", 10);
    m.eviction("operator", 1);
    m.eviction("disk full", 1);
    m.eviction("something new", 1);

    assertEquals(2, registry.get(MeterNames.EVICTIONS).tag("reason", "room-for-download").counter().count());
    assertEquals(1, registry.get(MeterNames.EVICTIONS).tag("reason", "over-the-limit").counter().count());
    assertEquals(1, registry.get(MeterNames.EVICTIONS).tag("reason", "operator").counter().count());
    assertEquals(1, registry.get(MeterNames.EVICTIONS).tag("reason", "disk-full").counter().count());
    assertEquals(1, registry.get(MeterNames.EVICTIONS).tag("reason", "other").counter().count());
    assertEquals(5, registry.find(MeterNames.EVICTIONS).counters().size());
    assertEquals(163, registry.get(MeterNames.EVICTED_BYTES).counter().count());
  }
}
