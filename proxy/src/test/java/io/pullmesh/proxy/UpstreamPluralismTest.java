package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several upstreams: registry.ollama.ai (a fake one here) for everything, and a private registry (another fake,
 * with token auth) for one namespace. {@code --upstreams corp=<private>/team;username=...;password-file=...} serves
 * {@code corp/llama} from {@code team/llama} there, with that registry's own credentials.
 */
class UpstreamPluralismTest {
  @TempDir Path dir;

  @Test
  void aNamespaceIsServedFromItsOwnUpstreamWithItsOwnCredentials() throws Exception {
    FakeModel tiny = ModelFixture.tiny().create(dir.resolve("tiny"));
    FakeModel llama = ModelFixture.of("team/llama", "latest").seed(42).layer(io.pullmesh.testkit.model.MediaTypes.MODEL, 2L << 20)
        .create(dir.resolve("llama"));
    Path password = dir.resolve("corp.password");
    Files.writeString(password, "s3cret\n");
    try (FakeRegistry main = FakeRegistry.start(tiny);
        FakeRegistry corp = FakeRegistry.builder().requireAuth(true).tokenCredentials("bob", "s3cret").build()) {
      corp.addModel(llama);
      corp.start();
      ProxyConfig config = Harness.config(main.registryUrl(), dir.resolve("cache"),
          "--upstreams", "corp=" + corp.registryUrl() + "/team;username=bob;password-file=" + password);
      try (PullmeshProxy p = PullmeshProxy.start(config, Harness.testFetchConfig(4), Clock.systemUTC());
          OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
        client.pull(p.url(), "corp/llama:latest", dir.resolve("o1"));
        MirrorPullTest.assertSameBlobs(llama, dir.resolve("o1"));
        client.pull(p.url(), "library/tiny:latest", dir.resolve("o2"));
        MirrorPullTest.assertSameBlobs(tiny, dir.resolve("o2"));
        assertTrue(corp.stats().blobBytes() >= llama.totalBytes(), "the private registry served corp/llama");
        assertTrue(main.stats().blobBytes() >= tiny.totalBytes() && main.stats().blobBytes() < tiny.totalBytes() + llama.totalBytes(),
            "the main upstream served tiny only: " + main.stats().blobBytes());
        RawResponse unknown = RawHttp.get(p.url() + "/v2/corp/tiny/manifests/latest");
        assertEquals(404, unknown.status(), "corp/ names are looked up in the private registry only: " + unknown);
      }
    }
  }

  @Test
  void wrongCredentialsForANamespaceAreAnUpstreamRefusal() throws Exception {
    FakeModel llama = ModelFixture.of("team/llama", "latest").layer(io.pullmesh.testkit.model.MediaTypes.MODEL, 1024).create(dir.resolve("llama"));
    Path password = dir.resolve("corp.password");
    Files.writeString(password, "wrong");
    try (FakeRegistry main = FakeRegistry.builder().start();
        FakeRegistry corp = FakeRegistry.builder().requireAuth(true).tokenCredentials("bob", "s3cret").build()) {
      corp.addModel(llama);
      corp.start();
      ProxyConfig config = Harness.config(main.registryUrl(), dir.resolve("cache"),
          "--upstreams", "corp=" + corp.registryUrl() + "/team;username=bob;password-file=" + password);
      try (PullmeshProxy p = PullmeshProxy.start(config, Harness.testFetchConfig(4), Clock.systemUTC())) {
        RawResponse r = RawHttp.get(p.url() + "/v2/corp/llama/manifests/latest");
        assertTrue(r.status() == 401 || r.status() == 403 || r.status() == 502, r.toString());
        assertTrue(r.bodyText().contains("\"errors\""), "a registry JSON error: " + r.bodyText());
      }
    }
  }

  @Test
  void credentialsInTheUpstreamUrlAreTheUpstreamsCredentialsAndLeaveTheUrl() throws Exception {
    FakeModel llama = ModelFixture.of("library/llama", "latest").layer(io.pullmesh.testkit.model.MediaTypes.MODEL, 1 << 20).create(dir.resolve("llama"));
    try (FakeRegistry corp = FakeRegistry.builder().requireAuth(true).tokenCredentials("bob", "s3cret").build()) {
      corp.addModel(llama);
      corp.start();
      ProxyConfig config = Harness.config(corp.registryUrl().replace("http://", "http://bob:s3cret@"), dir.resolve("cache"));
      assertEquals("bob", config.upstreamCredentials().username());
      assertEquals(corp.registryUrl(), config.upstream().toString());
      try (PullmeshProxy p = PullmeshProxy.start(config, Harness.testFetchConfig(4), Clock.systemUTC());
          OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
        client.pull(p.url(), "library/llama:latest", dir.resolve("o"));
        MirrorPullTest.assertSameBlobs(llama, dir.resolve("o"));
      }
    }
  }

  @Test
  void badUpstreamSpecsSayWhatToFix() throws Exception {
    Path password = dir.resolve("p");
    Files.writeString(password, "x");
    ProxyConfig ok = ((ProxyConfig.Run) ProxyConfig.parse(new String[] {"--upstreams",
        "corp=https://registry.corp.example/team;username=bob;password-file=" + password + ",lab=http://10.0.0.5:5000"}, Map.of())).config();
    assertEquals(2, ok.upstreams().size());
    assertEquals("team", ok.upstreams().get(0).remoteNamespace());
    assertEquals("https://registry.corp.example", ok.upstreams().get(0).url().toString());
    assertEquals("bob", ok.upstreams().get(0).credentials().username());
    assertEquals(null, ok.upstreams().get(1).remoteNamespace());
    String[][] bad = {
        {"corp", "has no NS=URL"},
        {"library=https://x.example", "library is registry.ollama.ai's"},
        {"Corp=https://x.example", "not a namespace"},
        {"corp=ftp://x.example", "not an http:// or https:// URL"},
        {"corp=https://x.example;username=bob", "no password-file"},
        {"corp=https://x.example;token=abc", "unknown setting 'token=abc'"},
        {"corp=https://x.example,corp=https://y.example", "given twice"},
    };
    for (String[] b : bad) {
      ConfigException e = assertThrows(ConfigException.class, () -> ProxyConfig.parse(new String[] {"--upstreams", b[0]}, Map.of()), b[0]);
      assertTrue(e.getMessage().startsWith("--upstreams: ") && e.getMessage().contains(b[1]), b[0] + " -> " + e.getMessage());
    }
  }
}
