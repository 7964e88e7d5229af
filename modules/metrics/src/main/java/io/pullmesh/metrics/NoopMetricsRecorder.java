package io.pullmesh.metrics;

import java.time.Duration;
import java.util.function.LongSupplier;

/** Records nothing: for code paths and tests that do not look at metrics. */
final class NoopMetricsRecorder implements MetricsRecorder {
  static final NoopMetricsRecorder INSTANCE = new NoopMetricsRecorder();

  private NoopMetricsRecorder() {}

  @Override
  public void upstreamBytes(String registry, String kind, long bytes) {}

  @Override
  public void upstreamRequest(String registry, String kind, String status) {}

  @Override
  public void servedBytes(Source source, long bytes) {}

  @Override
  public void blobRequest(String result) {}

  @Override
  public void manifestRequest(String result) {}

  @Override
  public void downloadFinished(String outcome, Duration duration) {}

  @Override
  public void pieceRetry(String reason) {}

  @Override
  public void stall() {}

  @Override
  public void relocation() {}

  @Override
  public void digestMismatch() {}

  @Override
  public void rangeFallback() {}

  @Override
  public void httpRequest(String route, String method, int status, long nanos) {}

  @Override
  public void eviction(String reason, long bytes) {}

  @Override
  public void cacheLimit(LongSupplier limitBytes) {}

  @Override
  public long servedBytesTotal() {
    return 0;
  }

  @Override
  public long upstreamBlobBytesTotal() {
    return 0;
  }

  @Override
  public void gauges(LongSupplier activeDownloads, LongSupplier cacheBytes, LongSupplier cacheBlobs) {}
}
