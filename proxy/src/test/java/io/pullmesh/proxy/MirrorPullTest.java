package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.client.PullResult;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.ModelFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MirrorPullTest {
  @TempDir Path dir;

  static void assertSameBlobs(FakeModel model, Path dest) throws Exception {
    for (FakeBlob b : model.blobs()) {
      Path got = dest.resolve("blobs").resolve("sha256-" + b.digest().hex());
      assertEquals(b.size(), Files.size(got), "size of " + b.digest());
      assertArrayEquals(Files.readAllBytes(b.file()), Files.readAllBytes(got), "bytes of " + b.digest());
    }
  }

  @Test
  void ollamaPullsColdThenWarmAndUpstreamCarriesTheModelOnce() throws Exception {
    FakeModel model = ModelFixture.tiny().create(dir.resolve("model"));
    try (Harness h = Harness.start(dir, model);
        OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
      PullResult cold = client.pull(h.url(), "library/tiny:latest", dir.resolve("ollama1"));
      assertSameBlobs(model, dir.resolve("ollama1"));
      h.awaitIdle();
      assertEquals(model.manifestDigest(), cold.manifestDigest());
      long upstreamBytes = h.upstream.stats().blobBytes();
      assertTrue(upstreamBytes >= model.totalBytes() && upstreamBytes <= model.totalBytes() * 1.02 + 16,
          "upstream carried " + upstreamBytes + " bytes for a model of " + model.totalBytes());

      PullResult warm = client.pull(h.url(), "library/tiny:latest", dir.resolve("ollama2"));
      assertSameBlobs(model, dir.resolve("ollama2"));
      assertEquals(upstreamBytes, h.upstream.stats().blobBytes(), "a warm pull fetches nothing from upstream");
      assertEquals(model.blobs().size(), h.proxy.store().committedBlobs());
      assertEquals(cold.totalBytes(), warm.totalBytes());
    }
  }
}
