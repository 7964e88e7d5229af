package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.metrics.MeterNames;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node's flow of download bytes over real sockets: {@code --upstream-rate} caps what upstream sends, not what is
 * served from the cache; {@code --download-buffer-memory} makes downloads wait for room instead of holding more, and they
 * still complete byte for byte.
 */
class DownloadFlowTest {
  private static final long MiB = 1L << 20;
  @TempDir Path dir;

  @Test
  void aPullUnderAnUpstreamRateIsCappedAndTheWarmPullAfterItIsNot() throws Exception {
    long cap = 2 * MiB;
    FakeModel model = ModelFixture.of("library/capped", "latest").layer(MediaTypes.MODEL, 8 * MiB).layer(MediaTypes.PARAMS, 300)
        .create(dir.resolve("model"));
    // an unthrottled loopback upstream: only the cap holds the bytes back
    FakeRegistry upstream = FakeRegistry.start(model);
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(16), upstream, "--upstream-rate", "2m");
        OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().partSizes(MiB, MiB).build())) {
      assertEquals((double) cap, h.proxy.meterRegistry().get(MeterNames.UPSTREAM_RATE_LIMIT).gauge().value());
      long start = System.nanoTime();
      Future<?> pull = pool.submit(() -> client.pull(h.url(), "library/capped:latest", dir.resolve("cold")));
      pull.get(60, TimeUnit.SECONDS);
      double coldSeconds = (System.nanoTime() - start) / 1e9;
      MirrorPullTest.assertSameBlobs(model, dir.resolve("cold"));
      long bytes = upstream.stats().blobBytes();
      // the bucket starts full (a tenth of a second of the cap): what came beyond it came at the cap
      double rate = (bytes - cap / 10.0) / coldSeconds;
      assertTrue(rate <= cap * 1.3, "upstream sent " + bytes + " bytes in " + coldSeconds + " s: " + rate + " bytes/s over a cap of " + cap);
      assertTrue(rate > 0);

      long warmStart = System.nanoTime();
      client.pull(h.url(), "library/capped:latest", dir.resolve("warm"));
      double warmSeconds = (System.nanoTime() - warmStart) / 1e9;
      MirrorPullTest.assertSameBlobs(model, dir.resolve("warm"));
      assertTrue(warmSeconds < coldSeconds / 2, "a warm pull took " + warmSeconds + " s, the capped cold one " + coldSeconds + " s");
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void manyDownloadsUnderATinyBufferBudgetWaitForRoomAndCompleteByteForByte() throws Exception {
    int models = 8;
    long budget = 256 << 10;
    List<FakeModel> fixtures = new ArrayList<>();
    FakeRegistry upstream = FakeRegistry.builder().cdnBytesPerSecond(8 * MiB).start();
    for (int i = 0; i < models; i++) {
      FakeModel m = ModelFixture.of("library/tight-" + i, "latest").layer(MediaTypes.MODEL, 4 * MiB).seed(300 + i)
          .create(dir.resolve("model-" + i));
      fixtures.add(m);
      upstream.addModel(m);
    }
    ExecutorService pool = Executors.newFixedThreadPool(models + 1);
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicLong seen = new AtomicLong();
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(16), upstream, "--download-buffer-memory", "256k")) {
      assertEquals((double) budget, h.proxy.meterRegistry().get(MeterNames.DOWNLOAD_BUFFER_LIMIT).gauge().value());
      pool.submit(() -> {
        while (running.get()) {
          seen.accumulateAndGet((long) h.proxy.meterRegistry().get(MeterNames.DOWNLOAD_BUFFER).gauge().value(), Math::max);
          Thread.sleep(5);
        }
        return null;
      });
      List<Future<?>> pulls = new ArrayList<>();
      for (int i = 0; i < models; i++) {
        FakeModel m = fixtures.get(i);
        Path dest = dir.resolve("ollama-" + i);
        pulls.add(pool.submit(() -> {
          try (OllamaLikeClient c = new OllamaLikeClient(ClientOptions.forTests().partSizes(MiB, MiB).build())) {
            return c.pull(h.url(), m.repository() + ":latest", dest);
          }
        }));
      }
      for (Future<?> p : pulls) {
        p.get(120, TimeUnit.SECONDS);
      }
      running.set(false);
      for (int i = 0; i < models; i++) {
        MirrorPullTest.assertSameBlobs(fixtures.get(i), dir.resolve("ollama-" + i));
      }
      h.awaitIdle();
      long peak = h.proxy.downloads().bufferPeak();
      // a lane pauses when its grant is spent; the one network read that landed before the pause is held on top: at most one
      // per lane, and a read is at most 64 KiB (Netty's largest socket read; the upstream client's chunks may be as big)
      long overdraft = (long) models * 16 * (64 << 10);
      assertTrue(peak <= budget + overdraft, "held " + peak + " bytes at most, over a budget of " + budget);
      assertTrue(seen.get() <= budget + overdraft, "the gauge showed " + seen.get());
      assertTrue(peak >= budget / 2, "the budget was used (" + peak + "): the downloads waited for room");
      assertEquals(0, h.proxy.downloads().bufferHeld(), "finished downloads hold nothing");
    } finally {
      running.set(false);
      pool.shutdownNow();
    }
  }
}
