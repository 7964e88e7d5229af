package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.metrics.MeterNames;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.client.PullResult;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sixteen Ollama-like clients, each downloading its blobs in sixteen ranged parts at once, pull the same cold
 * model at the same moment: every byte they get is right, and upstream carries the model once.
 */
class ConcurrentColdPullTest {
  @TempDir Path dir;

  @Test
  void sixteenClientsTimesSixteenPartsOnAColdBlob() throws Exception {
    FakeModel model = ModelFixture.of("library/herd", "latest")
        .layer(MediaTypes.MODEL, 16L << 20)
        .layer(MediaTypes.TEMPLATE, 2000)
        .layer(MediaTypes.PARAMS, 300)
        .create(dir.resolve("model"));
    // throttled so that all clients arrive while the blob is still being fetched
    FakeRegistry upstream = FakeRegistry.builder().cdnBytesPerSecond(2L << 20).start().addModel(model);
    int clients = 16;
    ClientOptions parts16 = ClientOptions.forTests().partSizes(1 << 20, 1 << 20).build();
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(16), upstream)) {
      List<Future<PullResult>> pulls = new ArrayList<>();
      for (int i = 0; i < clients; i++) {
        Path dest = dir.resolve("ollama-" + i);
        pulls.add(pool.submit(() -> {
          try (OllamaLikeClient c = new OllamaLikeClient(parts16)) {
            return c.pull(h.url(), "library/herd:latest", dest);
          }
        }));
      }
      for (int i = 0; i < clients; i++) {
        PullResult r = pulls.get(i).get(120, TimeUnit.SECONDS);
        assertEquals(16, r.blobs().get(0).parts(), "the model layer went in 16 ranged parts");
        MirrorPullTest.assertSameBlobs(model, dir.resolve("ollama-" + i));
      }
      h.awaitIdle();
      long up = upstream.stats().blobBytes();
      assertTrue(up <= model.totalBytes() * 1.02, "upstream carried " + up + " bytes for a model of " + model.totalBytes());
      assertEquals(model.blobs().size(), (long) h.proxy.meterRegistry().get(MeterNames.DOWNLOADS).tag("outcome", "committed").counter().count(),
          "one download per blob");
      double inflight = h.proxy.meterRegistry().find(MeterNames.BLOB_REQUESTS).tag("result", "inflight").counter().count();
      assertTrue(inflight > 0, "clients joined the download in progress");
    } finally {
      pool.shutdownNow();
    }
  }
}
