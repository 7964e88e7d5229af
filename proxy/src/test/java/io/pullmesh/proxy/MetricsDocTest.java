package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.pullmesh.metrics.MeterNames;
import io.pullmesh.metrics.MetricsRecorder;
import io.pullmesh.metrics.MicrometerMetricsRecorder;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * docs/metrics.md lists every meter pullmesh registers, under the names Prometheus scrapes: every constant of
 * {@link MeterNames} is recorded once here, the registry is scraped as /metrics does, and every
 * {@code pullmesh_*} sample name in the scrape must appear in the catalogue.
 */
class MetricsDocTest {
  @Test
  void everyPullmeshMeterIsInTheCatalogueByItsPrometheusNames() throws Exception {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    MicrometerMetricsRecorder m = new MicrometerMetricsRecorder(registry);
    m.upstreamBytes("registry.ollama.ai", "blob", 1);
    m.upstreamRequest("registry.ollama.ai", "piece", "206");
    m.servedBytes(MetricsRecorder.Source.CACHE, 1);
    m.blobRequest("hit");
    m.manifestRequest("hit");
    m.downloadFinished("committed", Duration.ofMillis(5));
    m.pieceRetry("status");
    m.proxyConnect("intercepted");
    m.stall();
    m.relocation();
    m.digestMismatch();
    m.rangeFallback();
    m.httpRequest("blob", "GET", 200, 1000);
    m.eviction("operator", 1);
    m.cacheLimit(() -> 100);
    m.gauges(() -> 0, () -> 0, () -> 0);
    m.peerBytes(1);
    m.servedBytes(MetricsRecorder.Source.PEER, 1);
    m.peerPieceFailure("node-1", "digest");
    m.meshPeers(() -> 2);
    m.scrubbed("good", 10);
    m.cacheWritable(() -> true);
    m.downloadFlow(() -> 0, () -> 0, () -> 0, () -> 0);

    // every meter name is registered by the calls above (a new meter needs a line here, and one in the doc)
    List<String> unregistered = new ArrayList<>();
    for (Field f : MeterNames.class.getFields()) {
      if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class) {
        String name = (String) f.get(null);
        if (registry.find(name).meters().isEmpty()) {
          unregistered.add(f.getName() + " = " + name);
        }
      }
    }
    assertTrue(unregistered.isEmpty(), "not recorded by this test: " + unregistered);

    Set<String> samples = new TreeSet<>();
    for (String line : registry.scrape().split("\n")) {
      if (line.startsWith("pullmesh_")) {
        samples.add(line.split("[{ ]", 2)[0]);
      }
    }
    assertTrue(samples.size() >= MeterNames.class.getFields().length, "samples: " + samples);
    String doc = Files.readString(DashboardFiles.dir().resolve("..").resolve("docs").resolve("metrics.md").normalize());
    List<String> missing = samples.stream().filter(s -> !doc.contains("`" + s)).toList();
    assertTrue(missing.isEmpty(), "in /metrics but not in docs/metrics.md: " + missing);
    // and nothing in the catalogue that pullmesh does not expose
    List<String> stale = new ArrayList<>();
    java.util.regex.Matcher d = java.util.regex.Pattern.compile("`(pullmesh_[a-z0-9_]+)").matcher(doc);
    while (d.find()) {
      if (!samples.contains(d.group(1)) && samples.stream().noneMatch(s -> s.startsWith(d.group(1) + "_"))) {
        stale.add(d.group(1));
      }
    }
    assertTrue(stale.isEmpty(), "in docs/metrics.md but not in /metrics: " + stale);
  }
}
