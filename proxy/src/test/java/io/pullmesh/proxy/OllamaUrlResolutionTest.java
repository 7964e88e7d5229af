package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.client.BlobResult;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.client.PullResult;
import io.pullmesh.testkit.client.RedirectMode;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Ollama resolves each blob's URL with one GET before its parts (a 307 to another host name, or a 200 that
 * older builds require to carry a Location). Both the default answer (200 + Location naming the blob on this
 * node) and {@code --public-url} (a real cross-host 307) work with both kinds of Ollama build, by any host name.
 */
class OllamaUrlResolutionTest {
  @TempDir Path dir;

  @ParameterizedTest
  @EnumSource(RedirectMode.class)
  void defaultAnswerWorksForEveryOllamaBuildAndHostName(RedirectMode mode) throws Exception {
    FakeModel model = ModelFixture.tiny().create(dir.resolve("model"));
    try (Harness h = Harness.start(dir, model);
        OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().redirectMode(mode).build())) {
      for (String base : new String[] {"http://127.0.0.1:" + h.proxy.port(), "http://localhost:" + h.proxy.port()}) {
        Path dest = dir.resolve("ollama-" + base.hashCode());
        PullResult r = client.pull(base, "library/tiny:latest", dest);
        MirrorPullTest.assertSameBlobs(model, dest);
        for (BlobResult b : r.blobs()) {
          assertEquals(base + "/v2/library/tiny/blobs/" + b.digest(), b.directUrl(), "parts go to the blob's own URL");
        }
      }
    }
  }

  @Test
  void publicUrlRedirectsOtherHostNamesThere() throws Exception {
    FakeModel model = ModelFixture.tiny().create(dir.resolve("model"));
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    FakeRegistry upstream = FakeRegistry.start(model);
    ProxyConfig config = ((ProxyConfig.Run) ProxyConfig.parse(new String[] {"--listen", "127.0.0.1:" + port, "--transfer-port", "0",
        "--upstream", upstream.registryUrl(), "--cache-dir", dir.resolve("cache").toString(),
        "--public-url", "http://localhost:" + port}, Map.of())).config();
    try (upstream;
        PullmeshProxy proxy = PullmeshProxy.start(config, Harness.testFetchConfig(16), Clock.systemUTC());
        OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().redirectMode(RedirectMode.STRICT).build())) {
      String digest = model.largestLayer().digest().toString();
      RawResponse redirect = RawHttp.get("http://127.0.0.1:" + port + "/v2/library/tiny/blobs/" + digest);
      assertEquals(307, redirect.status());
      assertEquals("http://localhost:" + port + "/v2/library/tiny/blobs/" + digest, redirect.header("Location").orElseThrow());
      assertEquals(0, redirect.body().length);
      RawResponse ranged = RawHttp.get("http://127.0.0.1:" + port + "/v2/library/tiny/blobs/" + digest, Map.of("Range", "bytes=0-9"));
      assertEquals(206, ranged.status(), "ranged requests are served under any name");

      PullResult r = client.pull("http://127.0.0.1:" + port, "library/tiny:latest", dir.resolve("ollama"));
      MirrorPullTest.assertSameBlobs(model, dir.resolve("ollama"));
      for (BlobResult b : r.blobs()) {
        assertTrue(b.directUrl().startsWith("http://localhost:" + port + "/"), "the 307 named the direct URL: " + b.directUrl());
      }
    }
  }
}
