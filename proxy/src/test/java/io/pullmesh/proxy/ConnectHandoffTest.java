package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.metrics.MeterNames;
import io.pullmesh.testkit.Waits;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Intercepted CONNECTs are served by the TLS server on the client's own connection ({@link ConnectHandoff}), over
 * real sockets and the JDK's TLS client: several requests on one connection, the connection gauges back where they
 * were once the clients hang up, and the loopback hop still serving when the handoff is turned off.
 */
class ConnectHandoffTest {
  private static final String HOST = "registry.ollama.ai";
  @TempDir Path dir;

  private static FakeModel model(Path dir) {
    return ModelFixture.of("library/tiny", "latest").layer(MediaTypes.MODEL, 3L << 20).layer(MediaTypes.TEMPLATE, 311)
        .create(dir.resolve("model"));
  }

  @Test
  void anInterceptedConnectionIsServedOnTheClientsOwnSocketRequestAfterRequest() throws Exception {
    FakeModel model = model(dir);
    FakeBlob layer = model.largestLayer();
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(4), FakeRegistry.start(model))) {
      try (Tls c = Tls.open(h)) {
        // cold, then warm, then a range: three requests, one TLS connection kept alive
        assertArrayEquals(Files.readAllBytes(layer.file()), c.get("/v2/library/tiny/blobs/" + layer.digest(), null));
        h.awaitIdle();
        assertArrayEquals(Files.readAllBytes(layer.file()), c.get("/v2/library/tiny/blobs/" + layer.digest(), null));
        byte[] part = c.get("/v2/library/tiny/blobs/" + layer.digest(), "bytes=1000-1999");
        assertArrayEquals(Arrays.copyOfRange(Files.readAllBytes(layer.file()), 1000, 2000), part);
      }
      assertEquals(1, h.proxy.interceptHandoffs(), "the one CONNECT was handed to the TLS server, not spliced to it");
      assertEquals(1.0, connects(h, "intercepted"));
    }
  }

  @Test
  void theConnectionGaugesReturnToWhereTheyWereOnceHandedOffConnectionsClose() throws Exception {
    FakeModel model = model(dir);
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(4), FakeRegistry.start(model))) {
      double before = activeConnections(h);
      List<Tls> open = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        Tls c = Tls.open(h);
        open.add(c);
        c.get("/v2/", null);
      }
      // each is counted on the client port (its CONNECT) and on the TLS server, as over the hop
      Waits.awaitTrue(() -> activeConnections(h) >= before + 6, () -> "open: " + activeConnections(h) + ", before " + before);
      for (Tls c : open) {
        c.close();
      }
      // regression: the CONNECT's own connection object never heard of the close, and the client port's gauge grew by
      // one per intercepted connection, forever
      Waits.awaitTrue(() -> activeConnections(h) == before, () -> "after closing: " + activeConnections(h) + ", before " + before);
      assertEquals(3, h.proxy.interceptHandoffs());
    }
  }

  @Test
  void withTheHandoffTurnedOffTheLoopbackHopServesTheSame() throws Exception {
    FakeModel model = model(dir);
    FakeBlob layer = model.largestLayer();
    System.setProperty(ConnectHandoff.SWITCH, "false");
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(4), FakeRegistry.start(model))) {
      try (Tls c = Tls.open(h)) {
        assertArrayEquals(Files.readAllBytes(layer.file()), c.get("/v2/library/tiny/blobs/" + layer.digest(), null));
        assertArrayEquals(Files.readAllBytes(layer.file()), c.get("/v2/library/tiny/blobs/" + layer.digest(), null));
      }
      assertEquals(0, h.proxy.interceptHandoffs());
      assertEquals(1.0, connects(h, "intercepted"));
    } finally {
      System.clearProperty(ConnectHandoff.SWITCH);
    }
  }

  private static double connects(Harness h, String outcome) {
    return h.proxy.meterRegistry().find(MeterNames.PROXY_CONNECTS).tag("outcome", outcome).counters().stream()
        .mapToDouble(c -> c.count()).sum();
  }

  /** Open server connections, every server of the node (Vert.x's gauge). */
  private static double activeConnections(Harness h) {
    return h.proxy.meterRegistry().find("vertx.http.server.active.connections").gauges().stream().mapToDouble(g -> g.value()).sum();
  }

  /** One intercepted connection: CONNECT, the 200, a TLS handshake trusting only pullmesh's CA, then HTTP/1.1 requests. */
  private static final class Tls implements AutoCloseable {
    private final SSLSocket socket;

    private Tls(SSLSocket socket) {
      this.socket = socket;
    }

    static Tls open(Harness h) throws Exception {
      SSLContext ctx = InterceptionTest.trusting(h.proxy.ca().certificate());
      Socket raw = new Socket("127.0.0.1", h.proxy.port());
      raw.setSoTimeout(20_000);
      raw.getOutputStream().write(("CONNECT " + HOST + ":443 HTTP/1.1\r\nHost: " + HOST + ":443\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      String head = head(raw.getInputStream());
      assertTrue(head.startsWith("HTTP/1.1 200"), head);
      SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(raw, HOST, 443, true);
      SSLParameters p = s.getSSLParameters();
      p.setServerNames(List.of(new SNIHostName(HOST)));
      p.setEndpointIdentificationAlgorithm("HTTPS");
      s.setSSLParameters(p);
      s.startHandshake();
      return new Tls(s);
    }

    /** GETs {@code path} (with a Range when not null); the body of a 200 or 206, else fails with the response. */
    byte[] get(String path, String range) throws Exception {
      OutputStream out = socket.getOutputStream();
      out.write(("GET " + path + " HTTP/1.1\r\nHost: " + HOST + "\r\n" + (range == null ? "" : "Range: " + range + "\r\n") + "\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = socket.getInputStream();
      String head = head(in);
      assertTrue(head.startsWith("HTTP/1.1 200") || head.startsWith("HTTP/1.1 206"), head);
      long length = -1;
      for (String line : head.split("\r\n")) {
        if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
          length = Long.parseLong(line.substring(line.indexOf(':') + 1).strip());
        }
      }
      assertTrue(length >= 0, "a Content-Length: " + head);
      return in.readNBytes((int) length);
    }

    /** The response head, up to and including the blank line. */
    private static String head(InputStream in) throws Exception {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      int c;
      while ((c = in.read()) >= 0) {
        b.write(c);
        String s = b.toString(StandardCharsets.ISO_8859_1);
        if (s.endsWith("\r\n\r\n")) {
          return s;
        }
      }
      return b.toString(StandardCharsets.ISO_8859_1);
    }

    @Override
    public void close() throws Exception {
      socket.close();
    }
  }
}
