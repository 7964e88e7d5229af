package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.PoolArenaMetric;
import io.netty.buffer.PooledByteBufAllocator;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Blob bytes are read into pooled direct memory and released when the socket has them. After cold and warm
 * pulls, multipart ranges and clients that hang up mid-body, every such buffer is back in the pool.
 */
class BufferLeakTest {
  @TempDir Path dir;

  static long activeDirect() {
    return PooledByteBufAllocator.DEFAULT.metric().directArenas().stream().mapToLong(PoolArenaMetric::numActiveAllocations).sum();
  }

  static void hangUpAfter(int port, String path, String range, int bytes) throws Exception {
    try (Socket s = new Socket("127.0.0.1", port)) {
      OutputStream out = s.getOutputStream();
      out.write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + (range == null ? "" : "Range: " + range + "\r\n") + "\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      InputStream in = s.getInputStream();
      in.readNBytes(bytes);
    }
  }

  @Test
  void everyChunkGoesBackToThePool() throws Exception {
    FakeModel model = ModelFixture.of("library/leak", "latest").layer(MediaTypes.MODEL, 6L << 20).layer(MediaTypes.MODEL, 3L << 20)
        .create(dir.resolve("model"));
    FakeBlob first = model.layers().get(0);
    FakeBlob second = model.layers().get(1);
    long before = activeDirect();
    try (Harness h = Harness.start(dir, model)) {
      h.upstream.setCdnBytesPerSecond(8L << 20);
      String path = "/v2/library/leak/blobs/";
      // a client hangs up on a blob in flight, another on a committed one
      hangUpAfter(h.proxy.port(), path + first.digest(), null, 300_000);
      try (OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
        client.pull(h.url(), "library/leak:latest", dir.resolve("ollama"));
      }
      h.awaitIdle();
      hangUpAfter(h.proxy.port(), path + second.digest(), "bytes=0-99,200000-2999999", 100_000);
      RawHttp.get(h.url() + path + second.digest(), Map.of("Range", "bytes=0-99,1000-2999999"));
      SlowClientTest.slowGet(h.proxy.port(), path + first.digest(), "bytes=0-9,5000000-6291455");
    }
    // the proxy is closed: every buffer it took from the pool must be back
    assertEquals(before, activeDirect(), "pooled direct buffers still allocated after the proxy closed");
  }
}
