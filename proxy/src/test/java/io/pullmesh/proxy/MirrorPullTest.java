package io.pullmesh.proxy;

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

  /**
   * Every blob of {@code model} is in {@code dest} (an Ollama models directory) with the right size and bytes:
   * its SHA-256, streamed, is the digest the fixture generated it under.
   */
  static void assertSameBlobs(FakeModel model, Path dest) throws Exception {
    for (FakeBlob b : model.blobs()) {
      Path got = dest.resolve("blobs").resolve("sha256-" + b.digest().hex());
      assertEquals(b.size(), Files.size(got), "size of " + b.digest());
      assertEquals(b.digest(), sha256(got), "bytes of " + b.digest());
    }
  }

  static io.pullmesh.core.Digest sha256(Path file) throws Exception {
    java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
    try (java.io.InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) > 0) {
        sha.update(buf, 0, n);
      }
    }
    return io.pullmesh.core.Digest.ofBytes(sha.digest());
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
