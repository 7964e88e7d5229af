package io.pullmesh.proxy;

import io.pullmesh.fetch.FetchConfig;
import io.pullmesh.testkit.Waits;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.registry.FakeRegistry;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;

/**
 * A fake upstream (registry + CDN from the testkit, standing for registry.ollama.ai and Cloudflare R2) and a real
 * pullmesh proxy in front of it on an ephemeral loopback port, with timeouts and backoffs short enough for tests.
 */
final class Harness implements AutoCloseable {
  final FakeRegistry upstream;
  final PullmeshProxy proxy;
  final Path cacheDir;

  private Harness(FakeRegistry upstream, PullmeshProxy proxy, Path cacheDir) {
    this.upstream = upstream;
    this.proxy = proxy;
    this.cacheDir = cacheDir;
  }

  /** Fetch settings for tests: 64 KiB to 1 MiB pieces, 2 s stall timeout, 10 ms backoff. */
  static FetchConfig testFetchConfig(int connections) {
    return FetchConfig.defaults().withConnections(connections).withPieceSizes(64 << 10, 1 << 20)
        .withTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(2)).withRetries(6, Duration.ofMillis(10), Duration.ofMillis(200));
  }

  static ProxyConfig config(String upstreamUrl, Path cacheDir, String... extra) {
    String[] args = new String[6 + extra.length];
    args[0] = "--listen";
    args[1] = "127.0.0.1:0";
    args[2] = "--upstream";
    args[3] = upstreamUrl;
    args[4] = "--cache-dir";
    args[5] = cacheDir.toString();
    System.arraycopy(extra, 0, args, 6, extra.length);
    return ((ProxyConfig.Run) ProxyConfig.parse(args, Map.of())).config();
  }

  static Harness start(Path dir, FakeModel... models) {
    return start(dir, testFetchConfig(16), models);
  }

  static Harness start(Path dir, FetchConfig fetch, FakeModel... models) {
    return start(dir, fetch, FakeRegistry.start(models));
  }

  /** Starts a proxy in front of {@code upstream} (already started; closed with the harness). */
  static Harness start(Path dir, FetchConfig fetch, FakeRegistry upstream, String... proxyArgs) {
    Path cache = dir.resolve("cache");
    try {
      PullmeshProxy proxy = PullmeshProxy.start(config(upstream.registryUrl(), cache, proxyArgs), fetch, Clock.systemUTC());
      return new Harness(upstream, proxy, cache);
    } catch (RuntimeException e) {
      upstream.close();
      throw e;
    }
  }

  /** A counter's value in the proxy's registry, 0 when it was never incremented. */
  double counter(String name) {
    return proxy.meterRegistry().find(name).counters().stream().mapToDouble(c -> c.count()).sum();
  }

  String blobUrl(FakeModel model, io.pullmesh.core.Digest d) {
    return url() + "/v2/" + model.repository() + "/blobs/" + d;
  }

  /**
   * Waits until no download is in progress: clients may finish as soon as a blob is verified, a moment before
   * it is committed.
   */
  void awaitIdle() throws InterruptedException {
    Waits.awaitTrue(() -> proxy.downloads().activeCount() == 0, () -> "downloads still active: " + proxy.downloads().downloads());
  }

  String url() {
    return proxy.url();
  }

  @Override
  public void close() {
    proxy.close();
    upstream.close();
  }
}
