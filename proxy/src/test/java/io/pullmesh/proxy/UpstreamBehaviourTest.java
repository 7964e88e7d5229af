package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.fetch.FetchConfig;
import io.pullmesh.metrics.MeterNames;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.fault.Fault;
import io.pullmesh.testkit.fault.FaultRule;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How pullmesh copes with what registry.ollama.ai and its CDN really do, and with their failures. */
class UpstreamBehaviourTest {
  @TempDir Path dir;

  private FakeModel tiny() {
    return ModelFixture.tiny().create(dir.resolve("model"));
  }

  private static String code(RawResponse r) {
    return new JsonObject(r.bodyText()).getJsonArray("errors").getJsonObject(0).getString("code");
  }

  @Test
  void textPlainChunkedManifestIsServedUnchangedWithProperHeaders() throws Exception {
    FakeModel model = tiny();
    try (Harness h = Harness.start(dir, model)) {
      String url = h.url() + "/v2/library/tiny/manifests/latest";
      RawResponse cold = RawHttp.get(url, Map.of("Accept", "application/vnd.docker.distribution.manifest.v2+json"));
      assertEquals(200, cold.status());
      assertArrayEquals(model.manifestBytes(), cold.body(), "bytes unchanged");
      assertFalse(cold.chunked(), "upstream's chunked manifest gets a Content-Length");
      assertEquals(Integer.toString(model.manifestBytes().length), cold.header("Content-Length").orElseThrow());
      assertEquals("application/vnd.docker.distribution.manifest.v2+json", cold.header("Content-Type").orElseThrow());
      assertEquals(model.manifestDigest().toString(), cold.header("Docker-Content-Digest").orElseThrow());
      assertEquals("miss", cold.header("X-Pullmesh-Cache").orElseThrow());

      RawResponse warm = RawHttp.get(url);
      assertEquals("hit", warm.header("X-Pullmesh-Cache").orElseThrow());
      assertArrayEquals(model.manifestBytes(), warm.body());

      RawResponse head = RawHttp.head(url);
      assertEquals(200, head.status());
      assertEquals(Integer.toString(model.manifestBytes().length), head.header("Content-Length").orElseThrow());
      assertEquals(0, head.body().length);

      RawResponse byDigest = RawHttp.get(h.url() + "/v2/library/tiny/manifests/" + model.manifestDigest());
      assertEquals(200, byDigest.status());
      assertArrayEquals(model.manifestBytes(), byDigest.body());
      assertEquals(1, h.upstream.stats().requests(io.pullmesh.testkit.registry.RequestKind.MANIFEST), "one upstream manifest request");
    }
  }

  @Test
  void headOfABlobIsAnsweredFromTheManifestWithoutFetchingIt() throws Exception {
    FakeModel model = tiny();
    try (Harness h = Harness.start(dir, model)) {
      RawHttp.get(h.url() + "/v2/library/tiny/manifests/latest");
      FakeBlob b = model.largestLayer();
      RawResponse head = RawHttp.head(h.blobUrl(model, b.digest()));
      assertEquals(Long.toString(b.size()), head.header("Content-Length").orElseThrow());
      assertEquals(0, h.upstream.stats().blobBytes());
    }
  }

  @Test
  void bearerAuthIsHandledAndNeverLeaksToTheCdn() throws Exception {
    FakeModel model = tiny();
    FakeRegistry upstream = FakeRegistry.builder().requireAuth(true).start().addModel(model);
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(16), upstream);
        OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
      client.pull(h.url(), "library/tiny:latest", dir.resolve("ollama"));
      MirrorPullTest.assertSameBlobs(model, dir.resolve("ollama"));
      assertTrue(upstream.tokenRequests() >= 1);
      long cdnWithAuth = upstream.stats().recentRequests().stream()
          .filter(r -> r.server().equals("cdn") && r.authorization()).count();
      assertEquals(0, cdnWithAuth, "the registry's token must never be sent to the CDN");
      assertTrue(upstream.stats().recentRequests().stream().anyMatch(r -> r.server().equals("cdn")));
    }
  }

  @Test
  void aClientNeverSeesTheUpstreamsChallenge() throws Exception {
    FakeModel model = tiny();
    // the token endpoint wants credentials pullmesh does not have
    FakeRegistry upstream = FakeRegistry.builder().requireAuth(true).tokenCredentials("alice", "secret").start().addModel(model);
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(16), upstream)) {
      RawResponse r = RawHttp.get(h.url() + "/v2/library/tiny/manifests/latest");
      assertEquals(403, r.status(), r.toString());
      assertEquals("DENIED", code(r));
      assertFalse(r.hasHeader("WWW-Authenticate"), "an upstream challenge is never passed through");
    }
  }

  @Test
  void anExpiredCdnUrlIsResolvedAgainMidDownload() throws Exception {
    FakeModel model = ModelFixture.of("library/slow", "latest").layer(MediaTypes.MODEL, 4L << 20).create(dir.resolve("model"));
    FakeRegistry upstream = FakeRegistry.builder().cdnBytesPerSecond(256 << 10).start().addModel(model);
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(4), upstream)) {
      FakeBlob b = model.largestLayer();
      CompletableFuture<RawResponse> get = CompletableFuture.supplyAsync(
          () -> RawHttp.request("GET", h.blobUrl(model, b.digest()), Map.of(), Duration.ofSeconds(30)));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (upstream.stats().cdnBlobBytes() < (512 << 10) && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      upstream.expireIssuedUrls();
      RawResponse r = get.get(60, TimeUnit.SECONDS);
      assertTrue(r.complete());
      assertArrayEquals(Files.readAllBytes(b.file()), r.body());
      assertTrue(h.counter(MeterNames.RELOCATIONS) >= 1, "re-resolved the blob URL");
      assertTrue(upstream.stats().blobBytes() <= b.size() * 1.02 + (256 << 10), "no refetch of what had arrived");
    }
  }

  @Test
  void upstreamDownIsA502WithAClearMessage() throws Exception {
    FakeModel model = tiny();
    try (Harness h = Harness.start(dir, model)) {
      h.upstream.stop();
      RawResponse m = RawHttp.get(h.url() + "/v2/library/tiny/manifests/latest");
      assertEquals(502, m.status(), m.toString());
      assertEquals("UPSTREAM_ERROR", code(m));
      RawResponse b = RawHttp.get(h.blobUrl(model, model.largestLayer().digest()));
      assertEquals(502, b.status(), b.toString());
      assertTrue(b.bodyText().contains("UPSTREAM_ERROR"), b.bodyText());
    }
  }

  @Test
  void upstreamThatNeverAnswersIsA504() throws Exception {
    FakeModel model = tiny();
    FetchConfig fast = Harness.testFetchConfig(4).withTimeouts(Duration.ofSeconds(2), Duration.ofMillis(500))
        .withRetries(2, Duration.ofMillis(10), Duration.ofMillis(50));
    try (Harness h = Harness.start(dir, fast, FakeRegistry.start(model))) {
      h.upstream.cdnFaults().add(FaultRule.always(Fault.delay(Duration.ofSeconds(5))));
      RawResponse b = RawHttp.get(h.blobUrl(model, model.largestLayer().digest()));
      assertEquals(504, b.status(), b.toString());
      assertEquals("UPSTREAM_TIMEOUT", code(b));
    }
  }

  /** An upstream that knows both versions, with library/tiny:latest at {@code v1}: a test moves it to {@code v2}. */
  private static FakeRegistry tagAtFirstOfTwoVersions(FakeModel v1, FakeModel v2) {
    FakeRegistry upstream = FakeRegistry.start(v1);
    upstream.addModel(v2);
    upstream.publish("library/tiny", "latest", v1);
    return upstream;
  }

  @Test
  void aStaleTagIsServedWhenUpstreamIsDownAndRefreshedWhenItMoves() throws Exception {
    FakeModel v1 = tiny();
    FakeModel v2 = v1.nextVersion();
    FakeRegistry upstream = tagAtFirstOfTwoVersions(v1, v2);
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(16), upstream, "--manifest-ttl", "0s")) {
      String url = h.url() + "/v2/library/tiny/manifests/latest";
      assertArrayEquals(v1.manifestBytes(), RawHttp.get(url).body());

      upstream.publish("library/tiny", "latest", v2);
      RawResponse moved = RawHttp.get(url);
      assertArrayEquals(v2.manifestBytes(), moved.body(), "after the TTL the moved tag is served");
      assertEquals("updated", moved.header("X-Pullmesh-Cache").orElseThrow());

      upstream.stop();
      RawResponse stale = RawHttp.get(url);
      assertEquals(200, stale.status());
      assertArrayEquals(v2.manifestBytes(), stale.body());
      assertEquals("stale", stale.header("X-Pullmesh-Cache").orElseThrow());
      assertTrue(stale.header("Warning").orElseThrow().contains("stale"));
    }
  }

  @Test
  void pastItsTtlATagIsAnsweredFromTheCacheAtOnceWhileOneRevalidationRunsWithManifestMaxStale() throws Exception {
    FakeModel v1 = tiny();
    FakeModel v2 = v1.nextVersion();
    FakeRegistry upstream = tagAtFirstOfTwoVersions(v1, v2);
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(16), upstream, "--manifest-ttl", "0s", "--manifest-max-stale", "1h")) {
      String url = h.url() + "/v2/library/tiny/manifests/latest";
      assertEquals("miss", RawHttp.get(url).header("X-Pullmesh-Cache").orElseThrow(), "a tag never cached waits for upstream");
      long asked = upstream.stats().requests(io.pullmesh.testkit.registry.RequestKind.MANIFEST);

      upstream.publish("library/tiny", "latest", v2);
      RawResponse stale = RawHttp.get(url);
      assertArrayEquals(v1.manifestBytes(), stale.body(), "answered from the cache, not after upstream");
      assertEquals("revalidating", stale.header("X-Pullmesh-Cache").orElseThrow());
      assertEquals("110 pullmesh \"stale: revalidating\"", stale.header("Warning").orElseThrow());

      // the revalidation that request started records the move; a later request gets the tag as upstream has it
      io.pullmesh.testkit.Waits.awaitTrue(() -> java.util.Arrays.equals(v2.manifestBytes(), RawHttp.get(url).body()),
          "the moved tag is served once the background revalidation recorded it");
      assertTrue(upstream.stats().requests(io.pullmesh.testkit.registry.RequestKind.MANIFEST) > asked);

      upstream.stop();
      RawResponse offline = RawHttp.get(url);
      assertEquals(200, offline.status());
      assertArrayEquals(v2.manifestBytes(), offline.body(), "offline, the cached tag is served as before");
    }
  }

  @Test
  void aTagFreshWithinItsTtlIsNotRevalidated() throws Exception {
    FakeModel model = tiny();
    try (Harness h = Harness.start(dir, model)) {
      String url = h.url() + "/v2/library/tiny/manifests/latest";
      RawHttp.get(url);
      RawHttp.get(url);
      RawHttp.get(url);
      assertEquals(1, h.upstream.stats().requests(io.pullmesh.testkit.registry.RequestKind.MANIFEST));
    }
  }

}
