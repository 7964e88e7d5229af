package io.pullmesh.loadtest;

import io.pullmesh.testkit.registry.FakeRegistry;

/**
 * Watches the fake upstream's blob byte counter during a phase and notes when it first reached a target: the
 * moment the upstream transfer was complete, to tell upstream time from what happens after it (the proxy's
 * digest check, delivery to the client, the client's own checks).
 */
final class UpstreamWatch implements AutoCloseable {
  private final FakeRegistry registry;
  private final long start;
  private final long target;
  private final long t0 = System.nanoTime();
  private final Thread thread;
  private volatile long doneAt = -1;
  private volatile boolean stop;

  UpstreamWatch(FakeRegistry registry, long targetBytes) {
    this.registry = registry;
    this.start = registry.stats().blobBytes();
    this.target = targetBytes;
    this.thread = new Thread(this::poll, "bench-upstream-watch");
    thread.setDaemon(true);
    thread.start();
  }

  private void poll() {
    while (!stop) {
      if (registry.stats().blobBytes() - start >= target) {
        doneAt = System.nanoTime();
        return;
      }
      try {
        Thread.sleep(2);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  /** Seconds from the start of the watch to the moment the target was reached, or NaN if it was not. */
  double doneSeconds() {
    long d = doneAt;
    return d < 0 ? Double.NaN : (d - t0) / 1e9;
  }

  @Override
  public void close() {
    stop = true;
    thread.interrupt();
    try {
      thread.join(1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
