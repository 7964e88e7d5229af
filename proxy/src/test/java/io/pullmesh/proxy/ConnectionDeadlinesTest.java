package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Slow and idle clients do not hold connections forever (issue 18, item 4: with no header or idle timeout, 200 idle
 * connections and 200 sending a header line every 5 s were all still open after 90 s). Here the deadlines are short
 * ({@code --header-timeout 1s --idle-timeout 2s}) so the test is quick; the defaults are nginx's, 60 s and 75 s.
 */
class ConnectionDeadlinesTest {
  @TempDir Path dir;

  private Harness start(FakeModel model) {
    return Harness.start(dir, Harness.testFetchConfig(4), io.pullmesh.testkit.registry.FakeRegistry.start(model), "--header-timeout", "1s",
        "--idle-timeout", "2s");
  }

  /** Milliseconds until the server closes {@code s} (reads return -1 or reset), or -1 if it is still open after {@code maxMs}. */
  private static long closedWithin(Socket s, long maxMs) throws IOException {
    long start = System.nanoTime();
    s.setSoTimeout((int) maxMs);
    InputStream in = s.getInputStream();
    try {
      while (in.read() >= 0) {
        // drain whatever comes
      }
    } catch (SocketTimeoutException e) {
      return -1;
    } catch (IOException e) {
      // reset: closed
    }
    return (System.nanoTime() - start) / 1_000_000;
  }

  @Test
  void anIdleConnectionIsClosedWhenNoHeadersArrive() throws Exception {
    try (Harness h = start(ModelFixture.tiny().create(dir.resolve("m"))); Socket s = new Socket("127.0.0.1", h.proxy.port())) {
      long ms = closedWithin(s, 10_000);
      assertTrue(ms >= 0 && ms < 5_000, "closed after " + ms + " ms");
    }
  }

  @Test
  void aClientSendingOneHeaderLineAtATimeIsClosedAtTheHeaderDeadline() throws Exception {
    try (Harness h = start(ModelFixture.tiny().create(dir.resolve("m"))); Socket s = new Socket("127.0.0.1", h.proxy.port())) {
      OutputStream out = s.getOutputStream();
      out.write("GET /healthz HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII));
      long ms = dripHeaderLinesUntilClosed(s, out);
      assertTrue(ms >= 0 && ms < 5_000, "a header line every 250 ms is cut at the deadline: closed=" + (ms >= 0) + " after " + ms + " ms");
    }
  }

  @Test
  void aKeptAliveConnectionIsClosedWhenItsNextRequestDoesNotCome() throws Exception {
    try (Harness h = start(ModelFixture.tiny().create(dir.resolve("m"))); Socket s = new Socket("127.0.0.1", h.proxy.port())) {
      s.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      byte[] buf = new byte[256];
      s.setSoTimeout(5_000);
      int n = s.getInputStream().read(buf);
      assertTrue(new String(buf, 0, n, StandardCharsets.US_ASCII).startsWith("HTTP/1.1 200"));
      long ms = closedWithin(s, 10_000);
      assertTrue(ms >= 1_000 && ms < 6_000, "answered, then closed after " + ms + " ms of waiting for the next request");
    }
  }

  @Test
  void regressionAfterA421OnAnInterceptedConnectionTheNextHeadersAreStillDue() throws Exception {
    // the 421 was answered outside the handlers that re-armed the deadline, so a client dripping header lines after it
    // held the connection forever (each byte restarts the idle timeout)
    try (Harness h = start(ModelFixture.tiny().create(dir.resolve("m"))); Socket raw = new Socket("127.0.0.1", h.proxy.port())) {
      raw.setSoTimeout(10_000);
      raw.getOutputStream().write("CONNECT registry.ollama.ai:443 HTTP/1.1\r\nHost: registry.ollama.ai:443\r\n\r\n"
          .getBytes(StandardCharsets.US_ASCII));
      StringBuilder connected = new StringBuilder();
      while (!connected.toString().endsWith("\r\n\r\n")) {
        connected.append((char) raw.getInputStream().read());
      }
      assertTrue(connected.toString().startsWith("HTTP/1.1 200"), connected.toString());
      javax.net.ssl.SSLContext ctx = InterceptionTest.trusting(h.proxy.ca().certificate());
      try (Socket tls = ctx.getSocketFactory().createSocket(raw, "registry.ollama.ai", 443, true)) {
        tls.setSoTimeout(10_000);
        OutputStream out = tls.getOutputStream();
        out.write("GET /v2/ HTTP/1.1\r\nHost: elsewhere.example\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        byte[] buf = new byte[512];
        int n = tls.getInputStream().read(buf);
        assertTrue(new String(buf, 0, n, StandardCharsets.US_ASCII).startsWith("HTTP/1.1 421"), new String(buf, 0, n, StandardCharsets.US_ASCII));
        out.write("GET /v2/ HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII));
        long ms = dripHeaderLinesUntilClosed(tls, out);
        assertTrue(ms >= 0 && ms < 6_000, "header lines dripped after a 421 are cut at the deadline: closed=" + (ms >= 0) + " after " + ms + " ms");
      }
    }
  }

  @Test
  void aSlowButFlowingBodyIsNeverCut() throws Exception {
    // 3 MiB read at about 600 KiB/s: five seconds, longer than both deadlines, with bytes moving all the time
    FakeModel model = ModelFixture.of("library/slow", "latest").layer(MediaTypes.MODEL, 3L << 20).create(dir.resolve("m"));
    FakeBlob blob = model.largestLayer();
    try (Harness h = start(model); Socket s = new Socket()) {
      s.setReceiveBufferSize(16 << 10);
      s.connect(new java.net.InetSocketAddress("127.0.0.1", h.proxy.port()));
      s.setSoTimeout(30_000);
      s.getOutputStream().write(("GET /v2/library/slow/blobs/" + blob.digest() + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      InputStream in = s.getInputStream();
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      byte[] buf = new byte[16 << 10];
      long start = System.nanoTime();
      for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
        all.write(buf, 0, n);
        Thread.sleep(25);
      }
      long ms = (System.nanoTime() - start) / 1_000_000;
      byte[] bytes = all.toByteArray();
      String text = new String(bytes, StandardCharsets.ISO_8859_1);
      int split = text.indexOf("\r\n\r\n");
      assertTrue(text.startsWith("HTTP/1.1 200"), text.substring(0, Math.min(200, text.length())));
      assertArrayEquals(Files.readAllBytes(blob.file()), java.util.Arrays.copyOfRange(bytes, split + 4, bytes.length),
          "the whole body, though it took " + ms + " ms");
      assertTrue(ms > 2_500, "the read really outlasted the deadlines: " + ms + " ms");
    }
  }

  /**
   * Sends a header line every 250 ms (40 at most) on {@code s} until the server closes the connection.
   *
   * @return how long that took, in ms, or -1 when the connection was still open after the last line
   */
  private static long dripHeaderLinesUntilClosed(Socket s, OutputStream out) throws InterruptedException, IOException {
    long start = System.nanoTime();
    for (int i = 0; i < 40; i++) {
      try {
        out.write(("X-Slow-" + i + ": 1\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        Thread.sleep(250);
        s.setSoTimeout(1);
        if (s.getInputStream().read() < 0) {
          return (System.nanoTime() - start) / 1_000_000;
        }
      } catch (SocketTimeoutException e) {
        // still open
      } catch (IOException e) {
        return (System.nanoTime() - start) / 1_000_000;
      }
    }
    return -1;
  }
}
