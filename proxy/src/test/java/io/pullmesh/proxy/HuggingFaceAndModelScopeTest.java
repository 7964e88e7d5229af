package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.metrics.MeterNames;
import io.pullmesh.testkit.ManualClock;
import io.pullmesh.testkit.Waits;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.client.PullException;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import io.pullmesh.testkit.registry.RequestRecord;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hugging Face and ModelScope through the cache. An Ollama-like client with {@code HTTPS_PROXY} pointed at pullmesh pulls
 * {@code hf.co/<user>/<Repo>:<quant>} and {@code modelscope.cn/<user>/<model>} by their real names: pullmesh intercepts
 * those hosts (default list) and routes each to its own registry ({@code --upstreams hf.co=<fake>}: the testkit's
 * Hugging Face flavour, with hf.co's 307 to the huggingface.co hub and its expiring {@code __sign}, the hub's 302 to the
 * CDN, case-sensitive names and the anonymous 429; and its ModelScope flavour, a 307 to ollama.modelscope.cn's
 * {@code /blobs/download/} URL). Regression for issue 15: such pulls were refused (not on the intercept list) and
 * {@code bartowski/tiny-GGUF} was asked for upstream as {@code bartowski/tiny-gguf}.
 */
class HuggingFaceAndModelScopeTest {
  private static final String REPO = "bartowski/Tiny-GGUF";
  @TempDir Path dir;
  @RegisterExtension final CompatibilityRecorder compat = new CompatibilityRecorder();

  private FakeModel hfModel() {
    return ModelFixture.of(REPO, "Q4_K_M").seed(21).layer(MediaTypes.MODEL, 6L << 20).layer(MediaTypes.TEMPLATE, 211)
        .create(dir.resolve("hf-model"));
  }

  private static ClientOptions.Builder viaProxy(Harness h) throws Exception {
    return ClientOptions.forTests().partSizes(512 << 10, 1 << 20)
        .proxySelector(ProxySelector.of(new InetSocketAddress("127.0.0.1", h.proxy.port())))
        .sslContext(InterceptionTest.trusting(h.proxy.ca().certificate()));
  }

  /**
   * A proxy whose registry for {@code host} is {@code upstream} (its hub, 127.0.0.3, is one of its own hosts: the stand-in
   * for huggingface.co), with more {@code ;key=value} settings for that entry. registry.ollama.ai's upstream is unused:
   * every name below is routed by its host.
   */
  private static Harness start(Path dir, FakeRegistry upstream, String host, String settings) {
    return Harness.start(dir, Harness.testFetchConfig(4), upstream, "--upstreams",
        host + "=" + upstream.registryUrl() + ";own-hosts=127.0.0.3" + settings);
  }

  private static Harness start(Path dir, FakeRegistry upstream, String host) {
    return start(dir, upstream, host, "");
  }

  @Test
  void aHuggingFaceModelWithCapitalsPullsByItsRealNameColdThenWarmWithExactRanges() throws Exception {
    FakeModel model = hfModel();
    FakeRegistry hf = FakeRegistry.builder().huggingFace().build().publish(REPO, "Q4_K_M", model).start();
    try (Harness h = start(dir, hf, "hf.co"); OllamaLikeClient client = new OllamaLikeClient(viaProxy(h).build())) {
      client.pull("https://hf.co", REPO + ":Q4_K_M", dir.resolve("cold"));
      MirrorPullTest.assertSameBlobs(model, dir.resolve("cold"));
      h.awaitIdle();
      long cold = hf.stats().blobBytes();
      assertTrue(cold >= model.totalBytes() && cold <= model.totalBytes() * 1.02, "upstream carried " + cold + " for " + model.totalBytes());
      assertTrue(hf.stats().recentRequests().stream().filter(r -> r.uri().startsWith("/v2/"))
          .allMatch(r -> r.uri().startsWith("/v2/" + REPO + "/")), "asked for as the client spelled it: " + hf.stats().recentRequests());
      assertTrue(hf.stats().hubBlobBytes() == 0 && hf.stats().recentRequests().stream().anyMatch(r -> r.server().equals("hub")),
          "the chain went through the hub to the CDN");

      client.pull("https://hf.co", REPO + ":Q4_K_M", dir.resolve("warm"));
      MirrorPullTest.assertSameBlobs(model, dir.resolve("warm"));
      assertEquals(cold, hf.stats().blobBytes(), "warm: nothing from upstream");
      double hfBytes = h.proxy.meterRegistry().find(MeterNames.UPSTREAM_BYTES).tag("registry", "hf.co").tag("kind", "blob")
          .counters().stream().mapToDouble(c -> c.count()).sum();
      assertEquals(cold, (long) hfBytes, "upstream bytes are labelled with the registry they came from");

      // exact ranges through the interception, on the blob's hf.co URL
      FakeBlob big = model.largestLayer();
      HttpClient http = HttpClient.newBuilder().proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", h.proxy.port())))
          .sslContext(InterceptionTest.trusting(h.proxy.ca().certificate())).build();
      HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create("https://hf.co/v2/" + REPO + "/blobs/" + big.digest()))
          .header("Range", "bytes=1000-4999").build(), HttpResponse.BodyHandlers.ofByteArray());
      assertEquals(206, r.statusCode());
      assertEquals("bytes 1000-4999/" + big.size(), r.headers().firstValue("content-range").orElse(""));
      assertArrayEquals(Arrays.copyOfRange(Files.readAllBytes(big.file()), 1000, 5000), r.body());

      // and by name, without interception: /v2/hf.co/<user>/<Repo>/... is the same cached model
      RawResponse byName = RawHttp.get(h.url() + "/v2/hf.co/" + REPO + "/manifests/Q4_K_M");
      assertEquals(200, byName.status(), byName.toString());
      assertEquals(model.manifestDigest().toString(), byName.header("Docker-Content-Digest").orElse(""));
      assertEquals(404, RawHttp.get(h.url() + "/v2/hf.co/bartowski/tiny-gguf/manifests/Q4_K_M").status(),
          "Hugging Face names keep their capitals: the lower-cased name is another repository");
    }
    compat.row("Ollama-like client, strict URL resolution (older Ollama builds)", "testkit (server/download.go logic)",
        CompatibilityRecorder.Mode.INTERCEPTION, "testkit fake Hugging Face (hf.co 307 to huggingface.co __sign, 302 to a CDN)",
        "pull of hf.co/bartowski/Tiny-GGUF:Q4_K_M (capitals kept) cold then warm; upstream at most 1.02x cold, nothing warm; exact ranges;"
            + " by name at /v2/hf.co/...");
  }

  @Test
  void aSignedUrlThatExpiresMidDownloadIsResolvedAgainWithoutFailingThePull() throws Exception {
    FakeModel model = ModelFixture.of(REPO, "Q4_K_M").seed(22).layer(MediaTypes.MODEL, 8L << 20).create(dir.resolve("m"));
    ManualClock clock = ManualClock.fixed();
    // the hub's __sign lives 600 s (ollama #8360, #11654), the CDN's own signature 10 minutes here
    FakeRegistry hf = FakeRegistry.builder().huggingFace().clock(clock).urlValidity(Duration.ofMinutes(10)).cdnBytesPerSecond(512 << 10)
        .build().publish(REPO, "Q4_K_M", model).start();
    try (Harness h = start(dir, hf, "hf.co"); OllamaLikeClient client = new OllamaLikeClient(viaProxy(h).build())) {
      CompletableFuture<Void> pull = CompletableFuture.runAsync(() -> {
        try {
          client.pull("https://hf.co", REPO + ":Q4_K_M", dir.resolve("o"));
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      });
      Waits.awaitTrue(() -> hf.stats().cdnBlobBytes() > (2L << 20), "a quarter of the blob arrived");
      clock.advance(Duration.ofMinutes(11));
      pull.get(120, TimeUnit.SECONDS);
      MirrorPullTest.assertSameBlobs(model, dir.resolve("o"));
      assertTrue(h.counter(MeterNames.RELOCATIONS) >= 1, "the expired URL was resolved again");
      assertTrue(hf.stats().recentRequests().stream().anyMatch(r -> r.server().equals("cdn") && r.status() == 403),
          "the CDN refused the expired URL: " + hf.stats().recentRequests());
      assertTrue(hf.stats().blobBytes() <= model.totalBytes() * 1.02, "upstream carried " + hf.stats().blobBytes());
    }
    compat.row("Ollama-like client, strict URL resolution (older Ollama builds)", "testkit (server/download.go logic)",
        CompatibilityRecorder.Mode.INTERCEPTION, "testkit fake Hugging Face, signed URLs expiring mid-download",
        "the __sign and CDN URLs expired a quarter into the pull: resolved again from hf.co, the pull completed, upstream at most 1.02x");
  }

  @Test
  void aTokenFileLiftsHuggingFacesAnonymous429AndNeverReachesTheCdn() throws Exception {
    FakeModel model = hfModel();
    FakeRegistry hf = FakeRegistry.builder().huggingFace().requireToken("hf_abcdefghijklmnop").build().publish(REPO, "Q4_K_M", model)
        .start();
    Path token = dir.resolve("hf.token");
    Files.writeString(token, "hf_abcdefghijklmnop\n");
    try (Harness anonymous = start(dir.resolve("anon"), hf, "hf.co"); OllamaLikeClient client = new OllamaLikeClient(viaProxy(anonymous).build())) {
      PullException e = assertThrows(PullException.class, () -> client.pull("https://hf.co", REPO + ":Q4_K_M", dir.resolve("o1")));
      assertTrue(e.getMessage().startsWith("pull model manifest: 429: ") && e.getMessage().contains("pass a HF_TOKEN"),
          "Hugging Face's words reach the client with its status: " + e.getMessage());
    }
    FakeRegistry again = FakeRegistry.builder().huggingFace().requireToken("hf_abcdefghijklmnop").build().publish(REPO, "Q4_K_M", model)
        .start();
    try (Harness h = start(dir.resolve("token"), again, "hf.co", ";token-file=" + token);
        OllamaLikeClient client = new OllamaLikeClient(viaProxy(h).build())) {
      client.pull("https://hf.co", REPO + ":Q4_K_M", dir.resolve("o2"));
      MirrorPullTest.assertSameBlobs(model, dir.resolve("o2"));
      List<RequestRecord> log = again.stats().recentRequests();
      assertTrue(log.stream().filter(r -> !r.server().equals("cdn")).allMatch(RequestRecord::authorization),
          "the token went to hf.co and the hub: " + log);
      assertTrue(log.stream().filter(r -> r.server().equals("cdn")).noneMatch(RequestRecord::authorization), "never to the CDN: " + log);
    }
    compat.row("Ollama-like client, strict URL resolution (older Ollama builds)", "testkit (server/download.go logic)",
        CompatibilityRecorder.Mode.INTERCEPTION, "testkit fake Hugging Face, anonymous pulls refused (429)",
        "without a token the client sees Hugging Face's 429 and words (\"pass a HF_TOKEN\"); with --upstreams hf.co=...;token-file=F the"
            + " pull works, the token sent to hf.co and huggingface.co only");
  }

  @Test
  void aModelScopeModelPullsByItsRealNameColdThenWarm() throws Exception {
    FakeModel model = ModelFixture.of("Qwen/Qwen2.5-0.5B-Instruct-GGUF", "Q4_K_M").seed(23).layer(MediaTypes.MODEL, 5L << 20)
        .layer(MediaTypes.PARAMS, 80).create(dir.resolve("ms-model"));
    FakeRegistry ms = FakeRegistry.builder().modelScope().build().publish("Qwen/Qwen2.5-0.5B-Instruct-GGUF", "Q4_K_M", model).start();
    try (Harness h = start(dir, ms, "modelscope.cn"); OllamaLikeClient client = new OllamaLikeClient(viaProxy(h).build())) {
      client.pull("https://modelscope.cn", "Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M", dir.resolve("cold"));
      MirrorPullTest.assertSameBlobs(model, dir.resolve("cold"));
      h.awaitIdle();
      long cold = ms.stats().blobBytes();
      assertTrue(cold >= model.totalBytes() && cold <= model.totalBytes() * 1.02, "upstream carried " + cold);
      assertTrue(ms.stats().hubBlobBytes() > 0, "the blobs came from ollama.modelscope.cn's download URL");
      client.pull("https://modelscope.cn", "Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M", dir.resolve("warm"));
      MirrorPullTest.assertSameBlobs(model, dir.resolve("warm"));
      assertEquals(cold, ms.stats().blobBytes(), "warm: nothing from upstream");
    }
    compat.row("Ollama-like client, strict URL resolution (older Ollama builds)", "testkit (server/download.go logic)",
        CompatibilityRecorder.Mode.INTERCEPTION, "testkit fake ModelScope (307 to ollama.modelscope.cn /blobs/download/)",
        "pull of modelscope.cn/Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M cold then warm; upstream at most 1.02x cold, nothing warm");
  }
}
