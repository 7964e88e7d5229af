package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.client.XTransferLikeClient;
import io.pullmesh.testkit.client.XTransferOptions;
import io.pullmesh.testkit.client.XTransferResult;
import io.pullmesh.testkit.http.WireMeter;
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
 * Both of Ollama's download clients pull through the mirror receiving each blob once (at most 1.02x the model's bytes),
 * cold and warm: server/download.go (the testkit's OllamaLikeClient: a URL-resolution GET it hangs up on after the
 * headers, then 16 ranged parts) and x/transfer/download.go (the XTransferLikeClient: a resolution GET whose body it
 * reads to the end, then the blob GET, for tensor models). Bytes are counted on the wire: for the first by a relay in
 * front of the proxy (what crossed to the client, read or not), for the second by the client itself, which reads
 * every body it gets to its end.
 */
class OllamaClientsWireTest {
  private static final double MAX_RATIO = 1.02;
  @TempDir Path dir;
  @RegisterExtension final CompatibilityRecorder compat = new CompatibilityRecorder();

  private static FakeModel gguf(Path dir) {
    return ModelFixture.of("library/gguf", "latest").seed(11).layer(MediaTypes.MODEL, 48L << 20).layer(MediaTypes.TEMPLATE, 311)
        .layer(MediaTypes.PARAMS, 97).create(dir.resolve("gguf"));
  }

  private static FakeModel tensors(Path dir) {
    return ModelFixture.of("library/tensors", "latest").seed(12).layer(MediaTypes.TENSOR, 24L << 20)
        .layer(MediaTypes.TENSOR, 16L << 20).layer(MediaTypes.TENSOR, 1 << 20)
        .layer(MediaTypes.TEMPLATE, 311).create(dir.resolve("tensors"));
  }

  @Test
  void theDownloadGoClientReceivesEachBlobOnceColdAndWarm() throws Exception {
    FakeModel model = gguf(dir);
    try (Harness h = Harness.start(dir, model);
        WireMeter wire = WireMeter.to("127.0.0.1", h.proxy.port());
        OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().partSizes(1 << 20, 4 << 20).build())) {
      client.pull(wire.url(), "library/gguf:latest", dir.resolve("cold"));
      MirrorPullTest.assertSameBlobs(model, dir.resolve("cold"));
      long cold = wire.toClient();
      h.awaitIdle();
      client.pull(wire.url(), "library/gguf:latest", dir.resolve("warm"));
      MirrorPullTest.assertSameBlobs(model, dir.resolve("warm"));
      long warm = wire.toClient() - cold;
      assertRatio("download.go client, cold", cold, model);
      assertRatio("download.go client, warm", warm, model);
      compat.row("Ollama-like client, strict URL resolution (older Ollama builds)", "testkit (server/download.go logic)",
          CompatibilityRecorder.Mode.MIRROR, "testkit fake registry.ollama.ai (307 to a CDN)", String.format(java.util.Locale.ROOT,
              "bytes on the wire to the client, counted by a relay: %.3fx the model cold, %.3fx warm (limit 1.02x; the URL-resolution GET's"
                  + " body in flight before the client hangs up)", (double) cold / model.totalBytes(), (double) warm / model.totalBytes()));
    }
  }

  @Test
  void theXTransferClientReceivesEachBlobOnceColdAndWarmFromTheTransferPort() throws Exception {
    FakeModel model = tensors(dir);
    try (Harness h = Harness.start(dir, model);
        XTransferLikeClient client = new XTransferLikeClient(XTransferOptions.forTests().build())) {
      assertTrue(h.proxy.transferPort() > 0, "a transfer port is open by default");
      XTransferResult cold = client.pull(h.url(), "library/tensors:latest", dir.resolve("cold"));
      MirrorPullTest.assertSameBlobs(model, dir.resolve("cold"));
      h.awaitIdle();
      XTransferResult warm = client.pull(h.url(), "library/tensors:latest", dir.resolve("warm"));
      MirrorPullTest.assertSameBlobs(model, dir.resolve("warm"));
      assertRatio("x/transfer client, cold", cold.bytesReceived(), model);
      assertRatio("x/transfer client, warm", warm.bytesReceived(), model);
      assertTrue(cold.blobs().stream().allMatch(b -> b.finalUrl().contains(":" + h.proxy.transferPort() + "/v2/")),
          "every blob came from the transfer port: " + cold.blobs());
      assertTrue(h.upstream.stats().blobBytes() <= model.totalBytes() * MAX_RATIO, "upstream sent " + h.upstream.stats().blobBytes());
      compat.row("x/transfer-like client (tensor models)", "testkit (x/transfer/download.go logic)", CompatibilityRecorder.Mode.MIRROR,
          "testkit fake registry.ollama.ai (307 to a CDN)", String.format(java.util.Locale.ROOT,
              "tensor model cold then warm; resolution GET redirected to the transfer port; bytes received %.3fx the model cold, %.3fx"
                  + " warm (2x without the transfer port)", (double) cold.bytesReceived() / model.totalBytes(),
              (double) warm.bytesReceived() / model.totalBytes()));
    }
  }

  @Test
  void withoutTheTransferPortTheXTransferClientWouldReceiveEveryBlobTwice() throws Exception {
    // what the transfer port is for (issue 15): a 200 to x/transfer's resolution GET is read to its end and thrown away
    FakeModel model = tensors(dir);
    try (FakeRegistry upstream = FakeRegistry.start(model);
        PullmeshProxy p = PullmeshProxy.start(Harness.config(upstream.registryUrl(), dir.resolve("cache"), "--transfer-port", "none"),
            Harness.testFetchConfig(16), Clock.systemUTC());
        XTransferLikeClient client = new XTransferLikeClient(XTransferOptions.forTests().build())) {
      assertEquals(ProxyConfig.NO_TRANSFER_PORT, p.transferPort());
      XTransferResult r = client.pull(p.url(), "library/tensors:latest", dir.resolve("o"));
      MirrorPullTest.assertSameBlobs(model, dir.resolve("o"));
      assertTrue(r.bytesReceived() >= 2 * (model.totalBytes() - 2048), "received " + r.bytesReceived() + " for " + model.totalBytes());
    }
  }

  private static void assertRatio(String what, long bytes, FakeModel model) {
    double ratio = (double) bytes / model.totalBytes();
    System.out.printf("%s: %d bytes for a model of %d (%.4fx)%n", what, bytes, model.totalBytes(), ratio);
    assertTrue(bytes >= model.totalBytes() && ratio <= MAX_RATIO, what + ": " + bytes + " bytes received for a model of "
        + model.totalBytes() + " (" + String.format("%.3f", ratio) + "x)");
  }
}
