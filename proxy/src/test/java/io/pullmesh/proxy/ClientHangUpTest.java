package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.Waits;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ollama reads only the headers of its URL-resolution GET and hangs up. When that GET is served from the cache
 * (a file send) and the blob is larger than the socket buffers, the send fails under the hang-up; the blob must
 * still be released (not counted as being served), or it could never be evicted.
 */
class ClientHangUpTest {
  @TempDir Path dir;

  @Test
  void aClientHangingUpInTheMiddleOfACachedBlobReleasesIt() throws Exception {
    // far larger than loopback socket buffers, so the file send is still running when the client resets
    FakeModel model = ModelFixture.of("library/big", "latest").layer(MediaTypes.MODEL, 32L << 20).create(dir.resolve("model"));
    FakeBlob layer = model.largestLayer();
    try (Harness h = Harness.start(dir, model)) {
      String url = h.blobUrl(model, layer.digest());
      RawHttp.get(h.url() + "/v2/library/big/manifests/latest");
      assertEquals(200, RawHttp.request("GET", url, java.util.Map.of(), Duration.ofSeconds(60)).status());
      h.awaitIdle();
      assertTrue(h.proxy.store().lookup(layer.digest()).isPresent());

      for (int i = 0; i < 3; i++) {
        headersThenReset(url);
      }
      Waits.awaitTrue(() -> !h.proxy.space().inUse(layer.digest()), "the blob is no longer counted as being served once its clients hung up");
      AdminHttp api = new AdminHttp(h.url());
      assertFalse(api.list("blobs").getJsonObject(0).getBoolean("inUse"));
      JsonObject evicted = api.ok(200, "evict", new JsonObject().put("digest", layer.digest().toString()));
      assertEquals(layer.size(), evicted.getLong("freedBytes"));
      assertFalse(Files.exists(h.proxy.store().blobPath(layer.digest())));
    }
  }

  /** Sends a GET, reads the response headers and resets the connection (SO_LINGER 0), as a client that hangs up. */
  private static void headersThenReset(String url) throws Exception {
    URI u = URI.create(url);
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(u.getHost(), u.getPort()), 5000);
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(("GET " + u.getRawPath() + " HTTP/1.1\r\nHost: " + u.getHost() + ":" + u.getPort() + "\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = s.getInputStream();
      StringBuilder head = new StringBuilder();
      while (!head.toString().endsWith("\r\n\r\n")) {
        int c = in.read();
        assertTrue(c >= 0, "headers: " + head);
        head.append((char) c);
      }
      assertTrue(head.toString().startsWith("HTTP/1.1 200"), head.toString());
      s.setSoLinger(true, 0);
    }
  }
}
