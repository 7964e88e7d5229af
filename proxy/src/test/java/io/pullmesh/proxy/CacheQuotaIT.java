package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.RepositoryName;
import io.pullmesh.metrics.MeterNames;
import io.pullmesh.store.Pin;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * At full size: a cache limited to 1 GiB, 3 GiB of models pulled through it (twelve of 256 MiB). After every pull
 * the cache is within its limit, by the index and by the files on disk; the pinned model and the blob a client is
 * reading all along are never evicted.
 */
class CacheQuotaIT {
  static final long MIB = 1 << 20;
  @TempDir Path dir;

  private static long bytesOnDisk(Path blobs) throws Exception {
    try (var files = Files.walk(blobs)) {
      return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
    }
  }

  private static void deleteTree(Path p) throws Exception {
    if (Files.exists(p)) {
      try (var s = Files.walk(p)) {
        for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(x);
        }
      }
    }
  }

  @Test
  void threeGigabytesThroughAOneGigabyteCache() throws Exception {
    List<FakeModel> models = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      models.add(ModelFixture.of("library/q" + i, "latest").seed(900 + i).layer(MediaTypes.MODEL, 256 * MIB)
          .layer(MediaTypes.TEMPLATE, 500).create(dir.resolve("model-" + i)));
    }
    long total = models.stream().mapToLong(FakeModel::totalBytes).sum();
    assertTrue(total >= 3L << 30, "3 GiB of models: " + total);
    FakeRegistry upstream = FakeRegistry.builder().start();
    models.forEach(upstream::addModel);
    long limit = 1L << 30;
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(16), upstream, "--cache-max-bytes", "1g");
        OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().partSizes(16 * MIB, 64 * MIB).build())) {
      Path blobs = h.cacheDir.resolve("blobs");
      for (int i = 0; i < models.size(); i++) {
        FakeModel m = models.get(i);
        Path dest = dir.resolve("client");
        client.pull(h.url(), m.reference(), dest);
        MirrorPullTest.assertSameBlobs(m, dest);
        deleteTree(dest);
        h.awaitIdle();
        if (i == 0) {
          h.proxy.store().catalog().pin(new Pin(RepositoryName.parse(m.repository()), m.tag(), 1));
        }
        long indexed = h.proxy.store().committedBytes();
        long onDisk = bytesOnDisk(blobs);
        assertTrue(indexed <= limit, "after q" + i + " the index says " + indexed + " bytes");
        assertEquals(indexed, onDisk, "index and files agree after q" + i);
        assertTrue(h.proxy.store().lookup(models.get(0).largestLayer().digest()).isPresent(), "pinned q0 kept after q" + i);
        if (i == 1) {
          break;
        }
      }
      // a client now reads q1's blob slowly, holding it in use, while the other ten models pass through
      FakeBlob held = models.get(1).largestLayer();
      try (Socket s = new Socket("127.0.0.1", h.proxy.port())) {
        s.setReceiveBufferSize(16 << 10);
        OutputStream out = s.getOutputStream();
        out.write(("GET /v2/library/q1/blobs/" + held.digest() + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        InputStream in = s.getInputStream();
        in.readNBytes(64 << 10);
        for (int i = 2; i < models.size(); i++) {
          FakeModel m = models.get(i);
          Path dest = dir.resolve("client");
          client.pull(h.url(), m.reference(), dest);
          MirrorPullTest.assertSameBlobs(m, dest);
          deleteTree(dest);
          h.awaitIdle();
          long indexed = h.proxy.store().committedBytes();
          assertTrue(indexed <= limit, "after q" + i + " the index says " + indexed + " bytes");
          assertEquals(indexed, bytesOnDisk(blobs), "index and files agree after q" + i);
          assertTrue(h.proxy.store().lookup(models.get(0).largestLayer().digest()).isPresent(), "pinned q0 kept after q" + i);
          assertTrue(h.proxy.store().lookup(held.digest()).isPresent(), "q1's blob, being read, kept after q" + i);
        }
      }
      double evicted = h.proxy.meterRegistry().find(MeterNames.EVICTED_BYTES).counter().count();
      assertTrue(evicted >= total - limit - 256 * MIB, "evicted " + evicted + " bytes");
      System.out.printf("cache quota: %d bytes pulled through a %d-byte cache, %d evicted, %d cached at the end%n",
          total, limit, (long) evicted, h.proxy.store().committedBytes());
    }
  }
}
