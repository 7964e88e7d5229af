package io.pullmesh.testkit.registry;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.throttle.TokenBucket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CDN's per-connection throttle on real sockets. The token-bucket arithmetic itself is tested with a
 * manual ticker in TokenBucketTest; here only bounds that slowness cannot break are asserted.
 */
class ThrottleTest {
  @TempDir
  static Path dir;
  static FakeModel model;
  static FakeBlob blob;
  static FakeRegistry registry;

  @BeforeAll
  static void start() {
    model = ModelFixture.of("library/tiny", "latest").layer(MediaTypes.MODEL, 2L << 20).seed(13).create(dir);
    blob = model.largestLayer();
    registry = FakeRegistry.start(model);
  }

  @AfterAll
  static void stop() {
    registry.close();
  }

  @Test
  void oneConnectionGetsNoMoreThanItsRate() throws Exception {
    long rate = 1L << 20; // 1 MiB/s
    registry.setCdnBytesPerSecond(rate);
    try {
      long size = 768 * 1024;
      long start = System.nanoTime();
      RawResponse r = RawHttp.get(registry.signedCdnUrl(blob.digest()), Map.of("Range", "bytes=0-" + (size - 1)));
      double seconds = (System.nanoTime() - start) / 1e9;
      assertEquals(size, r.body().length);
      assertArrayEquals(java.util.Arrays.copyOf(Files.readAllBytes(blob.file()), (int) size), r.body());
      // A connection can only have sent one burst plus rate * time: so the transfer took at least this long.
      long burst = TokenBucket.defaultCapacity(rate);
      double atLeast = (double) (size - burst) / rate;
      assertTrue(seconds >= atLeast, "sent " + size + " bytes in " + seconds + " s at " + rate + " B/s");
    } finally {
      registry.setCdnBytesPerSecond(0);
    }
  }

  @Test
  void onASlowEdgeEveryOtherConnectionGetsAFractionOfTheRate() throws Exception {
    long rate = 1L << 20;
    int factor = 8;
    registry.setCdnBytesPerSecond(rate);
    registry.setCdnSlowEdges(2, factor);
    try {
      long size = 256 * 1024;
      Map<String, String> range = Map.of("Range", "bytes=0-" + (size - 1));
      assertEquals(size, RawHttp.get(registry.signedCdnUrl(blob.digest()), range).body().length);
      long start = System.nanoTime();
      RawResponse second = RawHttp.get(registry.signedCdnUrl(blob.digest()), range);
      double seconds = (System.nanoTime() - start) / 1e9;
      assertEquals(size, second.body().length);
      long slowRate = rate / factor;
      double atLeast = (double) (size - TokenBucket.defaultCapacity(slowRate)) / slowRate;
      assertTrue(seconds >= atLeast, "the second connection sent " + size + " bytes in " + seconds + " s at " + slowRate + " B/s");
    } finally {
      registry.setCdnSlowEdges(0, 1);
      registry.setCdnBytesPerSecond(0);
    }
  }

  @Test
  void manyThrottledConnectionsRunSideBySide() throws Exception {
    int connections = 24;
    long rate = 8L << 20;
    long size = 1L << 20;
    registry.setCdnBytesPerSecond(rate);
    registry.resetCounters();
    ExecutorService pool = Executors.newFixedThreadPool(connections);
    try {
      CountDownLatch go = new CountDownLatch(1);
      List<Future<RawResponse>> results = new ArrayList<>();
      for (int i = 0; i < connections; i++) {
        long from = i * 4096L;
        String url = registry.signedCdnUrl(blob.digest());
        results.add(pool.submit(() -> {
          go.await();
          return RawHttp.get(url, Map.of("Range", "bytes=" + from + "-" + (from + size - 1)));
        }));
      }
      go.countDown();
      for (Future<RawResponse> f : results) {
        RawResponse r = f.get();
        assertEquals(206, r.status());
        assertEquals(size, r.body().length);
      }
      assertEquals(connections * size, registry.stats().cdnBlobBytes());
    } finally {
      pool.shutdownNow();
      registry.setCdnBytesPerSecond(0);
    }
  }
}
