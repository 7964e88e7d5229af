package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import io.pullmesh.testkit.registry.RequestKind;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What issue 18 found a misbehaving upstream and odd requests could do, each a regression test. The misbehaving upstream
 * is a few lines of Vert.x in this test: it stands for a broken or hostile registry (a captive portal's page served as a
 * manifest, a manifest that drips, a redirect back to the mirror), not for registry.ollama.ai.
 */
class MisbehavingUpstreamTest {
  @TempDir Path dir;
  private final Vertx vertx = Vertx.vertx();
  private final List<AutoCloseable> closing = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : closing) {
      c.close();
    }
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private String upstream(Consumer<HttpServerRequest> handler) throws Exception {
    HttpServer s = vertx.createHttpServer().requestHandler(handler::accept);
    s.listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    return "http://127.0.0.1:" + s.actualPort();
  }

  private PullmeshProxy proxy(String upstreamUrl, String... args) {
    PullmeshProxy p = PullmeshProxy.start(Harness.config(upstreamUrl, dir.resolve("cache"), args), Harness.testFetchConfig(4), Clock.systemUTC());
    closing.add(p);
    return p;
  }

  @Test
  void regressionAManifestThatIsNotJsonIsNeitherServedNorCached() throws Exception {
    AtomicInteger asked = new AtomicInteger();
    String url = upstream(req -> {
      asked.incrementAndGet();
      req.response().putHeader("Content-Type", "text/html").end("<html><body>Please log in to the hotel Wi-Fi</body></html>");
    });
    PullmeshProxy p = proxy(url);
    for (int i = 1; i <= 2; i++) {
      RawResponse r = RawHttp.get(p.url() + "/v2/library/tiny/manifests/latest");
      assertEquals(502, r.status(), r.toString());
      assertTrue(r.bodyText().contains("not a JSON manifest"), r.bodyText());
      assertEquals(i, asked.get(), "nothing was cached: upstream asked again");
    }
  }

  @Test
  void regressionAManifestThatDripsIsCutAtTheManifestDeadline() throws Exception {
    String url = upstream(req -> {
      req.response().setChunked(true).putHeader("Content-Type", "text/plain");
      long id = vertx.setPeriodic(500, t -> req.response().write("{"));
      req.response().closeHandler(v -> vertx.cancelTimer(id));
    });
    // deadline: the connect timeout and four stall timeouts, 1 s + 4 x 1 s here
    PullmeshProxy fast = PullmeshProxy.start(Harness.config(url, dir.resolve("cache")),
        Harness.testFetchConfig(4).withTimeouts(Duration.ofSeconds(1), Duration.ofSeconds(1)), Clock.systemUTC());
    closing.add(fast);
    long start = System.nanoTime();
    RawResponse r = RawHttp.request("GET", fast.url() + "/v2/library/tiny/manifests/latest", Map.of(), Duration.ofSeconds(30));
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertEquals(504, r.status(), r.toString());
    assertTrue(ms < 15_000, "cut after " + ms + " ms although a byte arrived every 500 ms");
  }

  @Test
  void regressionAnUpstreamThatRedirectsABlobBackToTheMirrorIsRefusedAtOnce() throws Exception {
    int[] proxyPort = new int[1];
    String url = upstream(req -> req.response().setStatusCode(307)
        .putHeader("Location", "http://127.0.0.1:" + proxyPort[0] + req.path()).end());
    PullmeshProxy p = proxy(url);
    proxyPort[0] = p.port();
    String digest = "sha256:" + "ab".repeat(32);
    long start = System.nanoTime();
    RawResponse r = RawHttp.get(p.url() + "/v2/library/tiny/blobs/" + digest);
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertEquals(502, r.status(), r.toString());
    assertTrue(r.bodyText().contains("came back to this node"), r.bodyText());
    assertTrue(ms < 5_000, "at once, not after a timeout: " + ms + " ms");
  }

  @Test
  void regressionTheHostHeaderIsNeverWrittenIntoALocation() throws Exception {
    FakeModel tiny = ModelFixture.tiny().create(dir.resolve("m"));
    FakeRegistry fake = FakeRegistry.start(tiny);
    closing.add(fake);
    PullmeshProxy p = proxy(fake.registryUrl());
    String path = "/v2/library/tiny/blobs/" + tiny.largestLayer().digest();
    for (String host : new String[] {"evil.example:1234", ""}) {
      String answer = rawGet(p.port(), path, host);
      assertTrue(answer.startsWith("HTTP/1.1 200"), answer.substring(0, Math.min(300, answer.length())));
      assertTrue(answer.contains("\r\nLocation: " + path + "\r\n") || answer.contains("\r\nlocation: " + path + "\r\n"),
          "a relative Location, whatever the Host: " + answer.substring(0, answer.indexOf("\r\n\r\n")));
      assertFalse(answer.substring(0, answer.indexOf("\r\n\r\n")).contains("evil.example"));
    }
  }

  @Test
  void regressionAnAbsoluteFormTargetThatMerelyStartsWith127IsNotThisNode() throws Exception {
    FakeModel tiny = ModelFixture.tiny().create(dir.resolve("m"));
    FakeRegistry fake = FakeRegistry.start(tiny);
    closing.add(fake);
    PullmeshProxy p = proxy(fake.registryUrl(), "--intercept-hosts", "none");
    try (Socket s = new Socket("127.0.0.1", p.port())) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(("GET http://127.evil.example:" + p.port() + "/v2/library/tiny/manifests/latest HTTP/1.1\r\nHost: 127.evil.example:"
          + p.port() + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
      assertTrue(answer.startsWith("HTTP/1.1 403"), "not an open proxy: " + answer);
    }
  }

  @Test
  void regressionTenConcurrentRequestsForAColdTagAskUpstreamOnce() throws Exception {
    FakeModel tiny = ModelFixture.tiny().create(dir.resolve("m"));
    FakeRegistry fake = FakeRegistry.start(tiny);
    closing.add(fake);
    PullmeshProxy p = proxy(fake.registryUrl());
    List<CompletableFuture<RawResponse>> all = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      all.add(CompletableFuture.supplyAsync(() -> RawHttp.get(p.url() + "/v2/library/tiny/manifests/latest")));
    }
    for (CompletableFuture<RawResponse> f : all) {
      assertEquals(200, f.get(30, TimeUnit.SECONDS).status());
    }
    assertEquals(1, fake.stats().requests(RequestKind.MANIFEST), "one upstream GET for ten concurrent requests");
  }

  private static String rawGet(int port, String path, String host) throws IOException {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      InputStream in = s.getInputStream();
      byte[] head = new byte[4096];
      int n = 0;
      while (n < head.length) {
        int r = in.read(head, n, head.length - n);
        if (r < 0) {
          break;
        }
        n += r;
        if (new String(head, 0, n, StandardCharsets.ISO_8859_1).contains("\r\n\r\n")) {
          break;
        }
      }
      return new String(head, 0, n, StandardCharsets.ISO_8859_1);
    }
  }
}
