package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.Waits;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.client.XTransferLikeClient;
import io.pullmesh.testkit.client.XTransferOptions;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * pullmesh as the upstream of another pullmesh: an office cache under a regional one. The office's upstream is the
 * regional node's registry API; the regional node's is the (fake) registry.ollama.ai. A cold pull at the office fetches
 * each blob once at the top, and both Ollama clients work through the two tiers.
 */
class TieredMirrorTest {
  @TempDir Path dir;
  @RegisterExtension final CompatibilityRecorder compat = new CompatibilityRecorder();

  @Test
  void anOfficeCacheUnderARegionalOnePullsColdWithEachBlobFetchedOnceAtTheTop() throws Exception {
    FakeModel gguf = ModelFixture.of("library/tiered", "latest").seed(31).layer(MediaTypes.MODEL, 24L << 20)
        .layer(MediaTypes.TEMPLATE, 120).create(dir.resolve("gguf"));
    FakeModel tensors = ModelFixture.of("library/tiered-tensors", "latest").seed(32).layer(MediaTypes.TENSOR, 12L << 20)
        .layer(MediaTypes.TENSOR, 3L << 20).create(dir.resolve("tensors"));
    try (FakeRegistry top = FakeRegistry.start(gguf, tensors);
        PullmeshProxy regional = PullmeshProxy.start(Harness.config(top.registryUrl(), dir.resolve("regional")), Harness.testFetchConfig(8),
            Clock.systemUTC());
        PullmeshProxy office = PullmeshProxy.start(Harness.config(regional.url(), dir.resolve("office")), Harness.testFetchConfig(8),
            Clock.systemUTC());
        OllamaLikeClient ollama = new OllamaLikeClient(ClientOptions.forTests().partSizes(1 << 20, 4 << 20).build());
        XTransferLikeClient transfer = new XTransferLikeClient(XTransferOptions.forTests().build())) {
      ollama.pull(office.url(), "library/tiered:latest", dir.resolve("o1"));
      MirrorPullTest.assertSameBlobs(gguf, dir.resolve("o1"));
      transfer.pull(office.url(), "library/tiered-tensors:latest", dir.resolve("o2"));
      MirrorPullTest.assertSameBlobs(tensors, dir.resolve("o2"));
      long total = gguf.totalBytes() + tensors.totalBytes();
      Waits.awaitTrue(() -> regional.downloads().activeCount() == 0 && office.downloads().activeCount() == 0, "both tiers committed");
      long atTop = top.stats().blobBytes();
      assertTrue(atTop >= total && atTop <= total + 4096, "the top registry sent " + atTop + " bytes for models of " + total + " (1.0x)");
      assertEquals(gguf.blobs().size() + tensors.blobs().size(), office.store().committedBlobs());
      assertEquals(gguf.blobs().size() + tensors.blobs().size(), regional.store().committedBlobs());
    }
    compat.row("pullmesh (as the upstream of another pullmesh)", ProxyConfig.VERSION, CompatibilityRecorder.Mode.UPSTREAM,
        "testkit fake registry.ollama.ai (307 to a CDN) above the regional node",
        "an office node under a regional one; the download.go-like and x/transfer-like clients pull cold at the office; each blob fetched"
            + " once at the top (1.0x)");
  }
}
