package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Digest;
import io.pullmesh.metrics.MeterNames;
import io.pullmesh.store.SpaceManager;
import io.pullmesh.testkit.Waits;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bit rot after commit (issue 18, item 6): a committed blob whose file changed on disk was served as good until someone
 * ran {@code admin verify}. The scrub finds it, quarantines it, counts it, and fetches it again; and a blob is re-hashed
 * before this node first serves it to a peer, so rot does not spread through the mesh.
 */
class ScrubberTest {
  @TempDir Path dir;

  /** Changes one byte of a file in place, as a failing disk would. */
  static void flipByte(Path file, long at) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.allocate(1);
      ch.read(b, at);
      b.put(0, (byte) (b.get(0) ^ 0xff)).rewind();
      ch.write(b, at);
    }
  }

  private FakeModel model() {
    return ModelFixture.of("library/rot", "latest").seed(61).layer(MediaTypes.MODEL, 3L << 20).layer(MediaTypes.TEMPLATE, 200)
        .create(dir.resolve("m"));
  }

  @Test
  void aBlobThatRotsOnDiskIsQuarantinedCountedAndFetchedAgain() throws Exception {
    FakeModel model = model();
    FakeBlob big = model.largestLayer();
    try (Harness h = Harness.start(dir, model); OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
      client.pull(h.url(), "library/rot:latest", dir.resolve("before"));
      h.awaitIdle();
      long fetched = h.upstream.stats().blobBytes();
      flipByte(h.proxy.store().blobPath(big.digest()), 12345);

      Scrubber.Pass pass = h.proxy.scrubber().pass();
      assertEquals(java.util.List.of(big.digest()), pass.corrupt());
      assertEquals(model.blobs().size(), pass.checked());
      assertTrue(Files.exists(h.cacheDir.resolve("quarantine").resolve("sha256-" + big.digest().hex())), "kept for inspection");
      assertEquals(1.0, h.proxy.meterRegistry().get(MeterNames.SCRUB_BLOBS).tag("result", "corrupt").counter().count());

      Waits.awaitTrue(() -> h.proxy.store().lookup(big.digest()).isPresent(), "fetched again in the background");
      h.awaitIdle();
      assertTrue(h.upstream.stats().blobBytes() >= fetched + big.size(), "the good bytes came from upstream again");
      client.pull(h.url(), "library/rot:latest", dir.resolve("after"));
      MirrorPullTest.assertSameBlobs(model, dir.resolve("after"));
      assertEquals(java.util.List.of(), h.proxy.scrubber().pass().corrupt(), "the next pass finds nothing");
    }
  }

  @Test
  void aBlobIsReHashedBeforeItIsFirstServedToAPeerAndARottedOneIsNot() throws Exception {
    FakeModel model = model();
    FakeBlob good = model.layers().stream().filter(l -> l.mediaType().equals(MediaTypes.TEMPLATE)).findFirst().orElseThrow();
    FakeBlob rotted = model.largestLayer();
    Path rottedFile;
    try (Harness h = Harness.start(dir, model); OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
      client.pull(h.url(), "library/rot:latest", dir.resolve("o"));
      h.awaitIdle();
      // committed by this very process, its SHA-256 checked moments ago: served to peers without a second hash
      assertTrue(h.proxy.scrubber().verifiedForPeer(rotted.digest()).join().isPresent());
      rottedFile = h.proxy.store().blobPath(rotted.digest());
    }
    // the node restarts on its cache, where a blob rotted meanwhile
    flipByte(rottedFile, 7);
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(16), FakeRegistry.start(model))) {
      assertEquals(h.proxy.store().blobPath(good.digest()), h.proxy.scrubber().verifiedForPeer(good.digest()).join().orElseThrow());
      assertTrue(h.proxy.scrubber().verifiedForPeer(rotted.digest()).join().isEmpty(), "a rotted blob is not served to a peer");
      assertTrue(Files.exists(h.cacheDir.resolve("quarantine").resolve("sha256-" + rotted.digest().hex())), "it left the cache (quarantined)");
      assertTrue(h.proxy.scrubber().verifiedForPeer(Digest.parse("sha256:" + "0".repeat(64))).join().isEmpty(), "an unknown blob is not served");
    }
  }

  @Test
  void aPassLeavesBlobsInUseAlone() throws Exception {
    FakeModel model = model();
    try (Harness h = Harness.start(dir, model); OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
      client.pull(h.url(), "library/rot:latest", dir.resolve("o"));
      h.awaitIdle();
      FakeBlob big = model.largestLayer();
      flipByte(h.proxy.store().blobPath(big.digest()), 99);
      try (SpaceManager.Lease lease = h.proxy.space().use(big.digest())) {
        Scrubber.Pass pass = h.proxy.scrubber().pass();
        assertTrue(pass.corrupt().isEmpty(), "a blob being served is not moved under its reader");
        assertEquals(model.blobs().size() - 1, pass.checked());
      }
      assertEquals(java.util.List.of(big.digest()), h.proxy.scrubber().pass().corrupt(), "the next pass checks it");
    }
  }
}
