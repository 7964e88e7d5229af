package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.ModelFixture;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin API against what a web page on the proxy's machine can make a browser send (issue 18, item 1), and against
 * a body too large to buffer (item 7), over a real socket to a running proxy with no --admin-token.
 */
class AdminHardeningTest {
  @TempDir Path dir;

  /** Sends {@code head} and {@code body} (after a pause if asked) and reads the whole answer until the server closes. */
  private static String exchange(int port, String head, byte[] body) throws IOException {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      try {
        out.write(body);
        out.flush();
      } catch (IOException e) {
        // the server may answer and close before the body is all sent: what it answered is what counts
      }
      InputStream in = s.getInputStream();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      byte[] buf = new byte[8192];
      try {
        for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
          got.write(buf, 0, n);
          if (got.toString(StandardCharsets.UTF_8).contains("\r\n\r\n") && got.toString(StandardCharsets.UTF_8).contains("}]}")) {
            break;
          }
        }
      } catch (IOException e) {
        // reset after the answer
      }
      return got.toString(StandardCharsets.UTF_8);
    }
  }

  private static String post(int port, String host, String contentType, String origin, String body) throws IOException {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    String head = "POST /admin/v1/alias HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: " + contentType + "\r\n"
        + (origin == null ? "" : "Origin: " + origin + "\r\n") + "Content-Length: " + b.length + "\r\nConnection: close\r\n\r\n";
    return exchange(port, head, b);
  }

  @Test
  void regressionAWebPageCannotRepointAModelThroughTheAdminApi() throws Exception {
    FakeModel tiny = ModelFixture.tiny().create(dir.resolve("m"));
    try (Harness h = Harness.start(dir, tiny)) {
      int port = h.proxy.port();
      String alias = "{\"name\":\"library/tiny:latest\",\"target\":\"evil/model:latest\"}";
      String simple = post(port, "127.0.0.1:" + port, "text/plain", "http://evil.example", alias);
      assertTrue(simple.startsWith("HTTP/1.1 415"), "a simple cross-site POST (text/plain) is refused: " + simple);
      String json = post(port, "127.0.0.1:" + port, "application/json", "http://evil.example", alias);
      assertTrue(json.startsWith("HTTP/1.1 403"), "a page's Origin is refused: " + json);
      String rebound = post(port, "attacker.example:" + port, "application/json", null, alias);
      assertTrue(rebound.startsWith("HTTP/1.1 403") && rebound.contains("not a name of this node"), "a rebound DNS name is refused: " + rebound);
      assertEquals(0, new AdminHttp(h.url()).list("aliases").size(), "nothing was repointed");

      String cli = post(port, "127.0.0.1:" + port, "application/json", null, "{\"name\":\"team/x:latest\",\"target\":\"library/tiny:latest\"}");
      assertTrue(cli.startsWith("HTTP/1.1 200"), "the admin CLI's request still works: " + cli);
    }
  }

  @Test
  void regressionAnOversizedBodyIsRefusedBeforeItIsBuffered() throws Exception {
    try (Harness h = Harness.start(dir, ModelFixture.tiny().create(dir.resolve("m")))) {
      int port = h.proxy.port();
      // declared too large: refused before a byte of it is read
      String declared = exchange(port, "POST /admin/v1/pin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          + "Content-Length: 400000000\r\n\r\n", new byte[0]);
      assertTrue(declared.startsWith("HTTP/1.1 400") && declared.contains("larger than"), declared);
      // chunked, 1 MiB sent: refused once 64 KiB have arrived, the rest read and thrown away
      ByteArrayOutputStream chunked = new ByteArrayOutputStream();
      byte[] chunk = new byte[16 << 10];
      for (int i = 0; i < 64; i++) {
        chunked.write((Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
        chunked.write(chunk);
        chunked.write("\r\n".getBytes(StandardCharsets.US_ASCII));
      }
      String streamed = exchange(port, "POST /admin/v1/pin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          + "Transfer-Encoding: chunked\r\n\r\n", chunked.toByteArray());
      assertTrue(streamed.startsWith("HTTP/1.1 400") && streamed.contains("larger than"), streamed);
    }
  }

  @Test
  void aClientThatGoesOnSendingARefusedBodyIsCutOffPastTheDrainLimit() throws Exception {
    try (Harness h = Harness.start(dir, ModelFixture.tiny().create(dir.resolve("m")));
        Socket s = new Socket("127.0.0.1", h.proxy.port())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(("POST /admin/v1/pin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          + "Content-Length: 400000000\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      boolean cut = false;
      byte[] block = new byte[64 << 10];
      try {
        for (int i = 0; i < 6 * 16; i++) { // 6 MiB, past the 4 MiB drained before the connection is closed
          out.write(block);
        }
        out.flush();
      } catch (IOException e) {
        cut = true; // reset while still sending: the server closed
      }
      InputStream in = s.getInputStream();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      try {
        for (int n = in.read(block); n >= 0; n = in.read(block)) {
          got.write(block, 0, n);
        }
        cut = true; // end of stream: the server closed
      } catch (java.net.SocketTimeoutException e) {
        // still open after 10 s: not cut off
      } catch (IOException e) {
        cut = true; // reset
      }
      assertTrue(cut, "the connection is closed once the client has sent well past the drain limit; read: " + got);
    }
  }
}
