package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.pullmesh.metrics.MicrometerMetricsRecorder;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The timers the dashboards take quantiles of (histogram_quantile over {@code _bucket}) publish buckets, in the
 * registry /metrics scrapes, and the download duration's reach past a large model's download time.
 */
class DashboardHistogramsTest {
  /** The smallest {@code le} of {@code family}'s buckets that counts one observation. */
  private static double firstBucketHolding(String scrape, String family) {
    Matcher b = Pattern.compile(Pattern.quote(family) + "_bucket\\{(?:[^}]*,)?le=\"([^\"]+)\"[^}]*} 1(?:\\.0)?\\s").matcher(scrape);
    assertTrue(b.find(), family + " has buckets:\n" + scrape);
    return b.group(1).equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(b.group(1));
  }

  @Test
  void aTenMinuteDownloadLandsInAFiniteBucket() {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new MicrometerMetricsRecorder(registry).downloadFinished("committed", Duration.ofMinutes(10));
    double le = firstBucketHolding(registry.scrape(), "pullmesh_download_duration_seconds");
    // not Micrometer's default 30 s ceiling, where every large download would read as "30 s" in p50/p99
    assertTrue(le >= 600 && le <= 3600, "le=" + le);
  }

  @Test
  void httpRequestsHaveBucketsByRoute() {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new MicrometerMetricsRecorder(registry).httpRequest("manifest", "GET", 200, TimeUnit.MILLISECONDS.toNanos(3));
    String scrape = registry.scrape();
    double le = firstBucketHolding(scrape, "pullmesh_http_requests_seconds");
    assertTrue(le >= 0.003 && le <= 0.005, "le=" + le);
    assertTrue(scrape.contains("pullmesh_http_requests_seconds_bucket{method=\"GET\",route=\"manifest\",status=\"200\",le="), scrape);
  }
}
