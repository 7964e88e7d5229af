package io.pullmesh.testkit.registry;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.client.PullException;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** registry.ollama.ai's 412 for clients older than a model needs, and the User-Agent in the request log. */
class VersionGateHttpTest {
  static final String OLD = "ollama/0.9.3 (amd64 linux) Go/go1.24.1";
  static final String NEW = "ollama/0.13.5 (amd64 linux) Go/go1.24.1";
  static final String SOURCE_BUILD = "ollama/0.0.0 (amd64 linux) Go/go1.24.1";

  @TempDir
  static Path dir;
  static FakeModel gated;
  static FakeModel plain;
  static FakeRegistry registry;

  @TempDir
  Path dest;

  @BeforeAll
  static void start() {
    gated = ModelFixture.of("library/qwen3", "latest").layer(MediaTypes.MODEL, 20_000).seed(21).create(dir);
    plain = ModelFixture.of("library/tiny", "latest").layer(MediaTypes.MODEL, 20_000).seed(22).create(dir);
    registry = FakeRegistry.builder().gate("library/qwen3", "latest", "0.13.0").build()
        .addModel(gated).addModel(plain).start();
  }

  @AfterAll
  static void stop() {
    registry.close();
  }

  @AfterEach
  void reset() {
    registry.resetCounters();
    registry.setLatestOllamaRelease(null);
    registry.gate("library/qwen3", "latest", "0.13.0");
  }

  private static RawResponse get(String url, String userAgent) {
    return RawHttp.get(url, Map.of("User-Agent", userAgent));
  }

  @Test
  void anOlderClientGets412WithTheRegistrysWords() {
    RawResponse r = get(registry.manifestUrl("library/qwen3", "latest"), OLD);
    assertEquals(412, r.status());
    assertEquals("text/plain; charset=utf-8", r.header("Content-Type").orElse(""));
    assertEquals("\nThe model you are attempting to pull requires a newer version of Ollama.\n\n"
        + "Please download the latest version at:\n\n\thttps://ollama.com/download\n", r.bodyText());
  }

  @Test
  void aClientAtOrAboveTheMinimumGetsTheManifest() {
    RawResponse r = get(registry.manifestUrl("library/qwen3", "latest"), NEW);
    assertEquals(200, r.status());
    assertArrayEquals(gated.manifestBytes(), r.body());
    assertEquals(200, get(registry.manifestUrl("library/qwen3", "latest"), "ollama/0.13.0 (arm64 darwin) Go/go1.24.0")
        .status());
  }

  @Test
  void aBuildFromSourceReporting000AndANonOllamaUserAgentAreRefused() {
    assertEquals(412, get(registry.manifestUrl("library/qwen3", "latest"), SOURCE_BUILD).status());
    assertEquals(412, get(registry.manifestUrl("library/qwen3", "latest"), "curl/8.5.0").status());
    assertEquals(412, RawHttp.get(registry.manifestUrl("library/qwen3", "latest")).status(), "no User-Agent at all");
  }

  @Test
  void aPreReleaseOfTheMinimumIsStillTooOld() {
    assertEquals(412, get(registry.manifestUrl("library/qwen3", "latest"), "ollama/0.13.0-rc1 (amd64 linux) Go/go1.24.1")
        .status());
  }

  @Test
  void theGateCoversHeadAndTheManifestByDigestButNotOtherModels() {
    RawResponse head = RawHttp.head(registry.manifestUrl("library/qwen3", "latest"), Map.of("User-Agent", OLD));
    assertEquals(412, head.status());
    assertEquals(0, head.body().length);
    String byDigest = registry.manifestUrl("library/qwen3", gated.manifestDigest().toString());
    assertEquals(412, get(byDigest, OLD).status());
    assertEquals(200, get(byDigest, NEW).status());
    assertEquals(200, get(registry.manifestUrl("library/tiny", "latest"), SOURCE_BUILD).status());
    assertEquals(307, get(registry.blobUrl("library/qwen3", gated.largestLayer().digest()), OLD).status(),
        "blobs are not gated");
  }

  @Test
  void ungatingOpensTheManifestAgain() {
    assertTrue(registry.ungate("library/qwen3", "latest"));
    assertFalse(registry.ungate("library/qwen3", "latest"));
    assertEquals(200, get(registry.manifestUrl("library/qwen3", "latest"), OLD).status());
  }

  /**
   * Regression: gates were added and removed by the repository as spelled while pulls matched them by the catalog's
   * case-insensitive key, so a second spelling added a second gate (the stricter one won) and ungate missed it.
   */
  @Test
  void regressionAGateIsReplacedAndRemovedUnderAnotherSpellingOfItsRepository() {
    String manifest = registry.manifestUrl("library/qwen3", "latest");
    registry.gate("Library/Qwen3", "latest", "0.9.0");
    assertEquals(200, get(manifest, OLD).status(), "the gate of library/qwen3 was replaced, not joined by a second");
    assertTrue(registry.ungate("LIBRARY/qwen3", "latest"));
    assertEquals(200, get(manifest, SOURCE_BUILD).status(), "no gate is left");
    registry.gate("Library/Qwen3", "latest", "0.13.0");
    assertEquals(412, get(manifest, OLD).status(), "a gate added as Library/Qwen3 gates a pull of library/qwen3");
  }

  @Test
  void aMinimumNewerThanTheLatestReleaseGetsThePreReleaseWords() {
    registry.setLatestOllamaRelease("0.12.9");
    RawResponse r = get(registry.manifestUrl("library/qwen3", "latest"), OLD);
    assertEquals(412, r.status());
    assertEquals("\nThe model you are attempting to pull requires a newer version of Ollama that may be in pre-release."
        + "\n\nPlease see https://github.com/ollama/ollama/releases for more details.\n", r.bodyText());
    registry.setLatestOllamaRelease("0.13.0");
    assertTrue(get(registry.manifestUrl("library/qwen3", "latest"), OLD).bodyText()
        .contains("Please download the latest version at:"));
  }

  @Test
  void theOllamaLikeClientFailsWithOllamasMessage() throws Exception {
    try (OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().userAgent(OLD).build())) {
      PullException e = assertThrows(PullException.class,
          () -> client.pull(registry.registryUrl(), "library/qwen3:latest", dest));
      assertEquals("pull model manifest: 412: \nThe model you are attempting to pull requires a newer version of "
          + "Ollama.\n\nPlease download the latest version at:\n\n\thttps://ollama.com/download\n", e.getMessage());
    }
    try (OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().userAgent(NEW).build())) {
      assertEquals(gated.manifestDigest(), client.pull(registry.registryUrl(), "library/qwen3:latest", dest)
          .manifestDigest());
    }
  }

  @Test
  void theRequestLogKeepsEachRequestsUserAgent() throws Exception {
    HttpClient jdk = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .followRedirects(HttpClient.Redirect.NORMAL).build();
    HttpResponse<byte[]> blob = jdk.send(HttpRequest.newBuilder(
            URI.create(registry.blobUrl("library/tiny", plain.largestLayer().digest())))
        .header("User-Agent", NEW).header("Range", "bytes=0-9").build(), HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(206, blob.statusCode());
    get(registry.manifestUrl("library/qwen3", "latest"), SOURCE_BUILD);

    List<RequestRecord> log = registry.stats().recentRequests();
    assertEquals(3, log.size(), log.toString());
    assertEquals(NEW, log.get(0).userAgent());
    assertEquals("registry", log.get(0).server());
    assertEquals("cdn", log.get(1).server());
    assertEquals(NEW, log.get(1).userAgent(), "the JDK client keeps the header across the redirect");
    assertEquals(SOURCE_BUILD, log.get(2).userAgent());
    assertEquals(412, log.get(2).status());
    String body = new String(blob.body(), StandardCharsets.ISO_8859_1);
    assertEquals(10, body.length());
  }
}
