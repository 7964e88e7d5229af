package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.SelfSignedCertificate;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The default upstream is https: pullmesh speaks TLS to it and verifies its certificate. An upstream whose
 * certificate nobody trusts (a self-signed one here, standing for a man in the middle) gets no request through.
 */
class UpstreamTlsTest {
  @TempDir Path dir;

  @Test
  void anUntrustedUpstreamCertificateIsRefused() throws Exception {
    Vertx vertx = Vertx.vertx();
    AtomicInteger served = new AtomicInteger();
    SelfSignedCertificate cert = SelfSignedCertificate.create("localhost");
    try {
      HttpServer tls = vertx.createHttpServer(new HttpServerOptions().setSsl(true).setKeyCertOptions(cert.keyCertOptions()))
          .requestHandler(r -> {
            served.incrementAndGet();
            r.response().end("{}");
          })
          .listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      ProxyConfig config = Harness.config("https://localhost:" + tls.actualPort(), dir.resolve("cache"));
      try (PullmeshProxy proxy = PullmeshProxy.start(config, Harness.testFetchConfig(4), Clock.systemUTC())) {
        RawResponse r = RawHttp.get(proxy.url() + "/v2/library/tiny/manifests/latest");
        assertEquals(502, r.status(), r.toString());
        String body = r.bodyText().toLowerCase();
        assertTrue(body.contains("certificat") || body.contains("pkix") || body.contains("ssl") || body.contains("handshake"), body);
        assertEquals(0, served.get(), "no request reached the untrusted server");
      }
    } finally {
      cert.delete();
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }
}
