package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.metrics.MeterNames;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import io.pullmesh.tls.CertificateAuthority;
import io.pullmesh.tls.Leaf;
import io.pullmesh.tls.LeafIssuer;
import io.pullmesh.tls.Pem;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.PemKeyCertOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How pullmesh reaches its upstream: over TLS verified against the system's trust store plus {@code --upstream-ca}
 * (a private registry's or a TLS-inspecting corporate proxy's CA), and optionally through {@code --upstream-proxy}.
 * The upstream here is the fake registry serving https on 127.0.0.1 (registry and CDN on two ports) with a
 * certificate from a private CA that no trust store holds; the corporate proxy is a second pullmesh that only
 * tunnels (it intercepts nothing), which counts the CONNECTs it passes.
 */
class UpstreamTransportTest {
  @TempDir Path dir;

  /** A private CA, its certificate written to {@code ca.pem}, and a fake registry on https with a leaf from it. */
  private FakeRegistry privateTlsUpstream(FakeModel model) throws Exception {
    CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir.resolve("private-ca"), "test upstream", Clock.systemUTC());
    Files.writeString(dir.resolve("ca.pem"), ca.certificatePem());
    Leaf leaf = new LeafIssuer(ca, Clock.systemUTC()).forHost("127.0.0.1");
    StringBuilder chain = new StringBuilder();
    for (var c : leaf.chain()) {
      chain.append(Pem.toPem(c));
    }
    PemKeyCertOptions keyCert = new PemKeyCertOptions().addKeyValue(Buffer.buffer(Pem.toPem(leaf.privateKey())))
        .addCertValue(Buffer.buffer(chain.toString()));
    FakeRegistry r = FakeRegistry.builder().cdnHost("127.0.0.1").tls(keyCert).build();
    r.addModel(model);
    return r.start();
  }

  @Test
  void aPrivateUpstreamCaIsTrustedOnlyWhenGiven() throws Exception {
    FakeModel model = ModelFixture.tiny().create(dir.resolve("model"));
    try (FakeRegistry upstream = privateTlsUpstream(model)) {
      assertTrue(upstream.registryUrl().startsWith("https://"), upstream.registryUrl());
      try (PullmeshProxy p = PullmeshProxy.start(Harness.config(upstream.registryUrl(), dir.resolve("a")), Harness.testFetchConfig(4), Clock.systemUTC())) {
        RawResponse r = RawHttp.get(p.url() + "/v2/library/tiny/manifests/latest");
        assertEquals(502, r.status(), "without --upstream-ca the private CA is not trusted: " + r);
      }
      try (PullmeshProxy p = PullmeshProxy.start(Harness.config(upstream.registryUrl(), dir.resolve("b"), "--upstream-ca", dir.resolve("ca.pem").toString()),
              Harness.testFetchConfig(4), Clock.systemUTC());
          OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
        client.pull(p.url(), "library/tiny:latest", dir.resolve("ollama"));
        MirrorPullTest.assertSameBlobs(model, dir.resolve("ollama"));
      }
    }
  }

  @Test
  void theUpstreamIsReachedThroughTheUpstreamProxy() throws Exception {
    FakeModel model = ModelFixture.tiny().create(dir.resolve("model"));
    try (FakeRegistry upstream = privateTlsUpstream(model);
        PullmeshProxy corporate = PullmeshProxy.start(Harness.config("https://unused.invalid", dir.resolve("corp"), "--intercept-hosts", "none",
            "--tunnel-hosts", "127.0.0.1"), Harness.testFetchConfig(2), Clock.systemUTC());
        PullmeshProxy p = PullmeshProxy.start(Harness.config(upstream.registryUrl(), dir.resolve("cache"), "--upstream-ca", dir.resolve("ca.pem").toString(),
            "--upstream-proxy", corporate.url()), Harness.testFetchConfig(4), Clock.systemUTC());
        OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
      client.pull(p.url(), "library/tiny:latest", dir.resolve("ollama"));
      MirrorPullTest.assertSameBlobs(model, dir.resolve("ollama"));
      double tunnelled = corporate.meterRegistry().find(MeterNames.PROXY_CONNECTS).tag("outcome", "tunnelled").counters().stream()
          .mapToDouble(c -> c.count()).sum();
      assertTrue(tunnelled >= 2, "registry and CDN connections went through the corporate proxy: " + tunnelled);
      assertEquals(null, corporate.ca(), "a proxy that intercepts nothing has no CA");
    }
  }
}
