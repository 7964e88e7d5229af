package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.fetch.FetchConfig;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.client.PullException;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import io.pullmesh.testkit.registry.RequestKind;
import io.pullmesh.testkit.registry.RequestRecord;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * registry.ollama.ai gates new models by the Ollama version in the User-Agent: 412 and its words to an older client
 * (ollama #11457, #11675, #14431; the fake's gate models it). Through pullmesh, a current Ollama pulls a gated model cold,
 * warm and offline; an old one gets the 412 and the registry's words, from upstream and then from the cache, offline too.
 * Regression for issue 15: pullmesh said "pullmesh/0.1" upstream, so a current client got 502 "upstream answered 412"
 * and an old one the same 502 instead of the advice to upgrade.
 */
class VersionGatedPullTest {
  private static final String CURRENT = "ollama/0.13.5 (amd64 linux) Go/go1.24.1";
  private static final String OLD = "ollama/0.9.3 (amd64 linux) Go/go1.24.1";
  private static final String WORDS = "requires a newer version of Ollama";
  @TempDir Path dir;
  @RegisterExtension final CompatibilityRecorder compat = new CompatibilityRecorder();

  private FakeRegistry gated(FakeModel model) {
    FakeRegistry upstream = FakeRegistry.builder().build();
    upstream.addModel(model);
    upstream.gate("library/qwen3", "latest", "0.12.0");
    return upstream.start();
  }

  private FakeModel model() {
    return ModelFixture.of("library/qwen3", "latest").seed(5).layer(MediaTypes.MODEL, 2L << 20).layer(MediaTypes.TEMPLATE, 100)
        .create(dir.resolve("model"));
  }

  private static OllamaLikeClient client(String userAgent) {
    return new OllamaLikeClient(ClientOptions.forTests().userAgent(userAgent).build());
  }

  private static List<RequestRecord> manifestRequests(FakeRegistry upstream, String userAgent) {
    return upstream.stats().recentRequests().stream().filter(r -> r.kind() == RequestKind.MANIFEST && userAgent.equals(r.userAgent())).toList();
  }

  @Test
  void aCurrentOllamaPullsAVersionGatedModelColdWarmAndOffline() throws Exception {
    FakeModel model = model();
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(4), gated(model)); OllamaLikeClient current = client(CURRENT)) {
      current.pull(h.url(), "library/qwen3:latest", dir.resolve("cold"));
      MirrorPullTest.assertSameBlobs(model, dir.resolve("cold"));
      assertEquals(1, manifestRequests(h.upstream, CURRENT).size(), "the client's own User-Agent went upstream: " + h.upstream.stats().recentRequests());
      assertTrue(h.upstream.stats().recentRequests().stream().filter(r -> r.kind() == RequestKind.BLOB_GET)
          .allMatch(r -> CURRENT.equals(r.userAgent())), "the blob's locate carried it too: " + h.upstream.stats().recentRequests());
      h.awaitIdle();

      current.pull(h.url(), "library/qwen3:latest", dir.resolve("warm"));
      MirrorPullTest.assertSameBlobs(model, dir.resolve("warm"));
      assertEquals(1, manifestRequests(h.upstream, CURRENT).size(), "warm: served from the cache, upstream not asked again");

      h.upstream.stop();
      current.pull(h.url(), "library/qwen3:latest", dir.resolve("offline"));
      MirrorPullTest.assertSameBlobs(model, dir.resolve("offline"));
    }
    compat.row("Ollama-like client, current version (User-Agent ollama/0.13.5)", "testkit (server/download.go logic)",
        CompatibilityRecorder.Mode.MIRROR, "testkit fake registry.ollama.ai with a version gate (412 below 0.12.0)",
        "pull of a version-gated model cold, warm and offline; its own User-Agent went upstream; warm asked upstream nothing");
  }

  @Test
  void anOldOllamaGetsThe412AndTheRegistrysWordsFromUpstreamThenFromTheCacheOfflineToo() throws Exception {
    FakeModel model = model();
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(4), gated(model)); OllamaLikeClient current = client(CURRENT);
        OllamaLikeClient old = client(OLD)) {
      current.pull(h.url(), "library/qwen3:latest", dir.resolve("current"));

      PullException first = assertThrows(PullException.class, () -> old.pull(h.url(), "library/qwen3:latest", dir.resolve("old1")));
      assertRefusal(first);
      assertEquals(1, manifestRequests(h.upstream, OLD).size(), "the old client's User-Agent was asked about upstream once");

      PullException again = assertThrows(PullException.class, () -> old.pull(h.url(), "library/qwen3:latest", dir.resolve("old2")));
      assertRefusal(again);
      assertEquals(1, manifestRequests(h.upstream, OLD).size(), "the second refusal came from the cache");

      RawResponse stillThere = RawHttp.get(h.url() + "/v2/library/qwen3/manifests/latest", Map.of("User-Agent", CURRENT));
      assertEquals(200, stillThere.status(), "a 412 is never stored as the tag's content: " + stillThere);
      assertEquals(model.manifestDigest().toString(), stillThere.header("Docker-Content-Digest").orElse(""));

      h.upstream.stop();
      PullException offline = assertThrows(PullException.class, () -> old.pull(h.url(), "library/qwen3:latest", dir.resolve("old3")));
      assertRefusal(offline);
      current.pull(h.url(), "library/qwen3:latest", dir.resolve("current-offline"));
      MirrorPullTest.assertSameBlobs(model, dir.resolve("current-offline"));
    }
    compat.row("Ollama-like client, old version (User-Agent ollama/0.9.3)", "testkit (server/download.go logic)",
        CompatibilityRecorder.Mode.MIRROR, "testkit fake registry.ollama.ai with a version gate (412 below 0.12.0)",
        "refused with the registry's 412 and words (\"requires a newer version of Ollama ... https://ollama.com/download\"), from upstream"
            + " then from the cache, offline too; the 412 never replaced the cached tag",
        "refused as the registry refuses it: 412 with the registry's words");
  }

  @Test
  void anOldOllamaFirstThenACurrentOneIsAskedAboutUpstreamAndServed() throws Exception {
    FakeModel model = model();
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(4), gated(model)); OllamaLikeClient current = client(CURRENT);
        OllamaLikeClient old = client(OLD)) {
      assertRefusal(assertThrows(PullException.class, () -> old.pull(h.url(), "library/qwen3:latest", dir.resolve("old"))));
      current.pull(h.url(), "library/qwen3:latest", dir.resolve("current"));
      MirrorPullTest.assertSameBlobs(model, dir.resolve("current"));
      assertEquals(1, manifestRequests(h.upstream, CURRENT).size());
      current.pull(h.url(), "library/qwen3:latest", dir.resolve("current2"));
      assertEquals(1, manifestRequests(h.upstream, CURRENT).size(), "once accepted, a current client is served from the cache");
    }
  }

  @Test
  void aClientThatIsNotOllamaIsFetchedForUnderTheConfiguredUserAgent() throws Exception {
    FakeModel model = model();
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(4), gated(model))) {
      RawResponse r = RawHttp.get(h.url() + "/v2/library/qwen3/manifests/latest", Map.of("User-Agent", "curl/7.88.1"));
      assertEquals(200, r.status(), r.toString());
      assertEquals(1, manifestRequests(h.upstream, FetchConfig.DEFAULT_USER_AGENT).size(), h.upstream.stats().recentRequests().toString());
    }
    // an operator who sets an old --user-agent gets the registry's refusal passed on, status and words
    try (Harness h = Harness.start(dir.resolve("old-ua"), Harness.testFetchConfig(4), gated(model), "--user-agent", OLD)) {
      RawResponse r = RawHttp.get(h.url() + "/v2/library/qwen3/manifests/latest", Map.of("User-Agent", "curl/7.88.1"));
      assertEquals(412, r.status(), r.toString());
      assertTrue(r.bodyText().contains("\"PRECONDITION_FAILED\"") && r.bodyText().contains(WORDS)
          && r.bodyText().contains("https://ollama.com/download"), r.bodyText());
    }
  }

  /** What Ollama prints: "pull model manifest: 412: <body>", the body a registry error whose message is the registry's words. */
  private static void assertRefusal(PullException e) {
    String m = e.getMessage();
    assertTrue(m.startsWith("pull model manifest: 412: ") && m.contains(WORDS) && m.contains("https://ollama.com/download"), m);
    assertTrue(!m.contains("502") && !m.contains("UPSTREAM_ERROR"), m);
  }
}
