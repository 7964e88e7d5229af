package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Digest;
import io.pullmesh.metrics.MeterNames;
import io.pullmesh.store.Pin;
import io.pullmesh.testkit.Waits;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import io.pullmesh.core.RepositoryName;
import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cache stays within its limit by evicting what the policy values least, and never what is pinned, being
 * served or being downloaded; cached models still pull completely when the upstream is gone.
 */
class CacheLifecycleTest {
  static final long MIB = 1 << 20;
  @TempDir Path dir;

  private List<FakeModel> models(int n, long layerBytes) {
    List<FakeModel> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(ModelFixture.of("library/m" + i, "latest").seed(100 + i).layer(MediaTypes.MODEL, layerBytes)
          .layer(MediaTypes.TEMPLATE, 700).create(dir.resolve("model-" + i)));
    }
    return out;
  }

  private static FakeRegistry upstreamWith(List<FakeModel> models) {
    FakeRegistry r = FakeRegistry.builder().start();
    models.forEach(r::addModel);
    return r;
  }

  private void pull(Harness h, FakeModel m, String dest) throws Exception {
    try (OllamaLikeClient c = new OllamaLikeClient(ClientOptions.forTests().build())) {
      c.pull(h.url(), m.reference(), dir.resolve(dest));
    }
    MirrorPullTest.assertSameBlobs(m, dir.resolve(dest));
    h.awaitIdle();
  }

  private static boolean cached(Harness h, FakeModel m) {
    for (FakeBlob b : m.blobs()) {
      if (h.proxy.store().lookup(b.digest()).isEmpty()) {
        return false;
      }
    }
    return true;
  }

  @Test
  void theCacheStaysWithinItsLimitAndPinnedModelsStay() throws Exception {
    // 64 MiB limit, six models of 20 MiB: 120 MiB pulled through it
    List<FakeModel> models = models(6, 20 * MIB);
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(8), upstreamWith(models), "--cache-max-bytes", "64m")) {
      assertEquals(64 * MIB, h.proxy.space().limit());
      pull(h, models.get(0), "o0");
      h.proxy.store().catalog().pin(new Pin(RepositoryName.parse("library/m0"), "latest", 1));
      for (int i = 1; i < models.size(); i++) {
        pull(h, models.get(i), "o" + i);
        long bytes = h.proxy.store().committedBytes();
        assertTrue(bytes <= 64 * MIB, "after pulling m" + i + " the cache holds " + bytes + " bytes");
        assertTrue(cached(h, models.get(0)), "the pinned model is never evicted (after m" + i + ")");
        assertTrue(cached(h, models.get(i)), "the model just pulled is whole in the cache");
      }
      assertTrue(h.counter(MeterNames.EVICTIONS) >= 3, "evictions: " + h.counter(MeterNames.EVICTIONS));
      // what the files say matches what the index says
      long onDisk;
      try (var files = Files.walk(h.cacheDir.resolve("blobs"))) {
        onDisk = files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
      }
      assertEquals(h.proxy.store().committedBytes(), onDisk);
    }
  }

  @Test
  void aBlobBeingServedIsNotEvicted() throws Exception {
    List<FakeModel> models = models(4, 24 * MIB);
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(8), upstreamWith(models), "--cache-max-bytes", "64m")) {
      pull(h, models.get(0), "o0");
      FakeBlob served = models.get(0).largestLayer();
      // a client reads it slowly and holds the response open
      try (Socket s = new Socket("127.0.0.1", h.proxy.port())) {
        s.setReceiveBufferSize(8 << 10);
        OutputStream out = s.getOutputStream();
        out.write(("GET /v2/library/m0/blobs/" + served.digest() + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        InputStream in = s.getInputStream();
        in.readNBytes(64 << 10);
        // two more models need the room m0 holds
        pull(h, models.get(1), "o1");
        pull(h, models.get(2), "o2");
        assertTrue(h.proxy.store().lookup(served.digest()).isPresent(), "still cached while it is being served");
        assertTrue(h.proxy.store().committedBytes() <= 64 * MIB + served.size(), "only the blob in use may hold the cache over");
      }
      // once the response is over it may go like any other
      Waits.awaitTrue(() -> !h.proxy.space().inUse(served.digest()), "the blob is no longer in use once its response is over");
      pull(h, models.get(3), "o3");
      assertTrue(h.proxy.store().committedBytes() <= 64 * MIB);
    }
  }

  @Test
  void whenEverythingIsPinnedANewBlobGets507AndHitsAreStillServed() throws Exception {
    List<FakeModel> models = models(3, 30 * MIB);
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(8), upstreamWith(models), "--cache-max-bytes", "64m")) {
      pull(h, models.get(0), "o0");
      pull(h, models.get(1), "o1");
      h.proxy.store().catalog().pin(new Pin(RepositoryName.parse("library/m0"), "latest", 1));
      h.proxy.store().catalog().pin(new Pin(RepositoryName.parse("library/m1"), "latest", 1));
      Digest big = models.get(2).largestLayer().digest();
      RawResponse r = RawHttp.get(h.url() + "/v2/library/m2/blobs/" + big);
      assertEquals(507, r.status(), r.toString());
      JsonObject err = new JsonObject(r.bodyText()).getJsonArray("errors").getJsonObject(0);
      assertEquals("INSUFFICIENT_STORAGE", err.getString("code"));
      assertTrue(err.getString("message").contains("pinned"), err.getString("message"));
      // the pinned models still pull, from the cache
      long up = h.upstream.stats().blobBytes();
      pull(h, models.get(0), "again0");
      assertEquals(up, h.upstream.stats().blobBytes());
    }
  }

  @Test
  void aBlobLargerThanTheWholeCacheIsRefusedClearly() throws Exception {
    List<FakeModel> models = models(1, 80 * MIB);
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(8), upstreamWith(models), "--cache-max-bytes", "64m")) {
      RawResponse r = RawHttp.get(h.url() + "/v2/library/m0/blobs/" + models.get(0).largestLayer().digest());
      assertEquals(507, r.status());
      assertTrue(r.bodyText().contains("--cache-max-bytes"), r.bodyText());
    }
  }

  @Test
  void cachedModelsPullCompletelyWithTheUpstreamStopped() throws Exception {
    List<FakeModel> models = models(1, 8 * MIB);
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(8), upstreamWith(models), "--manifest-ttl", "0s")) {
      pull(h, models.get(0), "online");
      h.upstream.stop();
      // the manifest is stale (TTL 0) and the upstream is gone: served from the cache, said so
      pull(h, models.get(0), "offline");
      RawResponse m = RawHttp.get(h.url() + "/v2/library/m0/manifests/latest");
      assertEquals("stale", m.header("X-Pullmesh-Cache").orElseThrow());
      // a model that was never cached fails clearly
      RawResponse missing = RawHttp.get(h.url() + "/v2/library/never/manifests/latest");
      assertEquals(502, missing.status());
    }
  }
}
