package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client that reads slowly makes the response's write queue fill and drain over and over: the body must
 * still be exactly the bytes asked for, once, and end exactly at its Content-Length.
 */
class SlowClientTest {
  @TempDir Path dir;

  /** Sends a GET and reads the response slowly (small socket buffer, pauses); returns [headers, body]. */
  static Object[] slowGet(int port, String path, String range) throws Exception {
    try (Socket s = new Socket()) {
      s.setReceiveBufferSize(16 << 10);
      s.connect(new java.net.InetSocketAddress("127.0.0.1", port));
      s.setSoTimeout(30_000);
      OutputStream out = s.getOutputStream();
      out.write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + (range == null ? "" : "Range: " + range + "\r\n")
          + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = s.getInputStream();
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      byte[] buf = new byte[32 << 10];
      int n;
      int reads = 0;
      while ((n = in.read(buf)) > 0) {
        all.write(buf, 0, n);
        if (++reads % 4 == 0) {
          Thread.sleep(2);
        }
      }
      byte[] bytes = all.toByteArray();
      String text = new String(bytes, StandardCharsets.ISO_8859_1);
      int split = text.indexOf("\r\n\r\n");
      return new Object[] {text.substring(0, split), Arrays.copyOfRange(bytes, split + 4, bytes.length)};
    }
  }

  static long contentLength(String headers) {
    for (String line : headers.split("\r\n")) {
      if (line.toLowerCase().startsWith("content-length:")) {
        return Long.parseLong(line.substring(15).trim());
      }
    }
    throw new AssertionError("no Content-Length in " + headers);
  }

  @Test
  void slowReadersGetExactBodiesInFlightAndCommitted() throws Exception {
    FakeModel model = ModelFixture.of("library/slowreader", "latest").layer(MediaTypes.MODEL, 8L << 20).create(dir.resolve("model"));
    FakeBlob b = model.largestLayer();
    byte[] expected = Files.readAllBytes(b.file());
    try (Harness h = Harness.start(dir, model)) {
      h.upstream.setCdnBytesPerSecond(4L << 20);
      String path = "/v2/library/slowreader/blobs/" + b.digest();

      Object[] cold = slowGet(h.proxy.port(), path, null);
      assertTrue(((String) cold[0]).startsWith("HTTP/1.1 200"), (String) cold[0]);
      assertTrue(((String) cold[0]).toLowerCase().contains("x-pullmesh-cache: miss"));
      assertEquals(contentLength((String) cold[0]), ((byte[]) cold[1]).length);
      assertArrayEquals(expected, (byte[]) cold[1]);
      h.awaitIdle();

      Object[] multi = slowGet(h.proxy.port(), path, "bytes=0-3999999,5000000-8388607");
      String headers = (String) multi[0];
      assertTrue(headers.startsWith("HTTP/1.1 206"), headers);
      byte[] body = (byte[]) multi[1];
      assertEquals(contentLength(headers), body.length);
      String boundary = headers.substring(headers.indexOf("boundary=") + 9).split("\r\n")[0].trim();
      List<RangeSemanticsTest.Part> parts = RangeSemanticsTest.parseMultipart(body, boundary);
      assertEquals(2, parts.size());
      assertArrayEquals(Arrays.copyOfRange(expected, 0, 4_000_000), parts.get(0).body());
      assertArrayEquals(Arrays.copyOfRange(expected, 5_000_000, 8_388_608), parts.get(1).body());
    }
  }

  /**
   * Regression: a client that stops reading held 2 MiB of pooled direct memory, 16 chunks queued in Vert.x before the
   * response reported its write queue full (64 such clients pinned 137 MiB, a node's peak RSS). Now at most
   * {@link BodyWriter#MAX_IN_FLIGHT} is written ahead of the socket, plus the chunk being read.
   */
  @Test
  void aClientThatStopsReadingHoldsAtMostTwoChunksOfDirectMemory() throws Exception {
    FakeModel model = ModelFixture.of("library/stalled", "latest").layer(MediaTypes.MODEL, 16L << 20).create(dir.resolve("model"));
    FakeBlob b = model.largestLayer();
    int clients = 4;
    try (Harness h = Harness.start(dir, model)) {
      String path = "/v2/library/stalled/blobs/" + b.digest();
      Object[] whole = slowGet(h.proxy.port(), path, null);
      assertEquals(b.size(), ((byte[]) whole[1]).length);
      h.awaitIdle();
      io.netty.buffer.PooledByteBufAllocator pool = io.netty.buffer.PooledByteBufAllocator.DEFAULT;
      long before = pool.pinnedDirectMemory();
      List<Socket> stalled = new java.util.ArrayList<>();
      try {
        for (int i = 0; i < clients; i++) {
          Socket s = new Socket();
          stalled.add(s);
          s.setReceiveBufferSize(16 << 10);
          s.connect(new java.net.InetSocketAddress("127.0.0.1", h.proxy.port()));
          // two ranges apart: a multipart body, which is copied through memory (one range, or two that touch, go out with sendfile)
          s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=0-0,2-" + (b.size() - 1)
              + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
          s.getOutputStream().flush();
        }
        // the writers run until the sockets stop taking bytes; then what they hold stays put
        long[] last = {-1};
        io.pullmesh.testkit.Waits.awaitTrue(() -> {
          long now = pool.pinnedDirectMemory();
          boolean still = now == last[0] && now > before;
          last[0] = now;
          if (!still) {
            try {
              Thread.sleep(300);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
          return still;
        }, () -> "pinned direct memory still moving: " + pool.pinnedDirectMemory());
        long held = pool.pinnedDirectMemory() - before;
        long bound = (long) clients * (BodyWriter.MAX_IN_FLIGHT + BodyWriter.CHUNK);
        assertTrue(held <= bound, clients + " stalled clients pin " + held + " bytes of direct memory, want at most " + bound);
      } finally {
        for (Socket s : stalled) {
          s.close();
        }
      }
    }
  }
}
