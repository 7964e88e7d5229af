package io.pullmesh.testkit.registry;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.ManualClock;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Hugging Face flavour: hf.co's registry, the huggingface.co hub with its {@code __sign} URLs, and the CDN. */
class HuggingFaceFlavourTest {
  static final String REPO = "bartowski/Llama-3.2-1B-Instruct-GGUF";

  @TempDir
  static Path dir;
  static FakeModel q4;
  static FakeModel q8;
  static final ManualClock clock = ManualClock.fixed();
  static FakeRegistry registry;

  @BeforeAll
  static void start() {
    q4 = ModelFixture.of(REPO, "Q4_K_M").layer(MediaTypes.MODEL, 300_000).layer(MediaTypes.TEMPLATE, 90).seed(41)
        .create(dir);
    q8 = ModelFixture.of(REPO, "Q8_0").layer(MediaTypes.MODEL, 500_000).seed(42).create(dir);
    registry = FakeRegistry.builder().huggingFace().clock(clock).build()
        .publish(REPO, "Q8_0", q8).publish(REPO, "Q4_K_M", q4).start();
  }

  @AfterAll
  static void stop() {
    registry.close();
  }

  @AfterEach
  void reset() {
    registry.resetCounters();
  }

  private static String hubLocation(FakeBlob blob) {
    RawResponse r = RawHttp.get(registry.blobUrl(REPO, blob.digest()));
    assertEquals(307, r.status());
    return r.header("Location").orElseThrow();
  }

  @Test
  void threeServersOnThreeLoopbackHosts() {
    assertEquals(RegistryFlavour.HUGGING_FACE, registry.flavour());
    assertTrue(registry.hubUrl().startsWith("http://127.0.0.3:"), registry.hubUrl());
    assertTrue(registry.caseSensitiveNames());
    assertThrows(IllegalStateException.class, () -> FakeRegistry.builder().build().hubUrl(),
        "the registry.ollama.ai flavour has no hub");
  }

  @Test
  void quantTagsMatchInAnyCaseAndLatestMeansQ4KM() {
    assertArrayEquals(q4.manifestBytes(), RawHttp.get(registry.manifestUrl(REPO, "Q4_K_M")).body());
    assertArrayEquals(q4.manifestBytes(), RawHttp.get(registry.manifestUrl(REPO, "q4_k_m")).body());
    assertArrayEquals(q8.manifestBytes(), RawHttp.get(registry.manifestUrl(REPO, "q8_0")).body());
    assertArrayEquals(q4.manifestBytes(), RawHttp.get(registry.manifestUrl(REPO, "latest")).body());
  }

  @Test
  void aQuantTheRepositoryLacksGets400AndAnUnknownRepository404() {
    RawResponse r = RawHttp.get(registry.manifestUrl(REPO, "IQ4_NL"));
    assertEquals(400, r.status());
    assertEquals("The specified tag is not a valid quantization scheme. Please use another tag or \"latest\"", r.bodyText());
    assertEquals(404, RawHttp.get(registry.manifestUrl("bartowski/llama-3.2-1b-instruct-gguf", "Q4_K_M")).status(),
        "repository names keep their capitals");
  }

  @Test
  void aBlobGetIs307ToASignedUrlOnTheHubHost() {
    FakeBlob blob = q4.largestLayer();
    URI location = URI.create(hubLocation(blob));
    assertEquals("127.0.0.3", location.getHost());
    assertEquals(registry.hubPort(), location.getPort());
    assertEquals("/v2/" + REPO + "/blobs/" + blob.digest(), location.getPath());
    assertTrue(Pattern.matches("__sign=[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+", location.getRawQuery()),
        location.getRawQuery());

    String[] jwt = location.getRawQuery().substring("__sign=".length()).split("\\.");
    JsonObject payload = new JsonObject(new String(Base64.getUrlDecoder().decode(jwt[1]), StandardCharsets.UTF_8));
    assertEquals("/" + REPO, payload.getString("sub"));
    assertEquals(600, payload.getLong("exp") - payload.getLong("iat"));
    assertEquals(clock.instant().getEpochSecond(), payload.getLong("iat"));
    assertEquals(true, payload.getJsonObject("permissions").getBoolean("repo.content.read"));
  }

  @Test
  void aRangedGetOnTheHubIs302ToThePresignedCdnUrl() throws Exception {
    FakeBlob blob = q4.largestLayer();
    RawResponse hub = RawHttp.get(hubLocation(blob), Map.of("Range", "bytes=100-199"));
    assertEquals(302, hub.status());
    URI cdn = URI.create(hub.header("Location").orElseThrow());
    assertEquals("127.0.0.2", cdn.getHost());
    assertTrue(cdn.getRawQuery().contains("X-Amz-Signature="), cdn.toString());
    RawResponse part = RawHttp.get(cdn.toString(), Map.of("Range", "bytes=100-199"));
    assertEquals(206, part.status());
    assertArrayEquals(Arrays.copyOfRange(Files.readAllBytes(blob.file()), 100, 200), part.body());
    assertEquals(1, registry.stats().requests(RequestKind.HUB_GET));
    assertEquals(100, registry.stats().cdnBlobBytes(blob.digest()));
    assertEquals(0, registry.stats().hubBlobBytes(), "the hub only redirects");
  }

  @Test
  void aClientFollowingRedirectsGetsTheBlobThroughAllThreeHosts() throws Exception {
    FakeBlob blob = q4.largestLayer();
    HttpClient jdk = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .followRedirects(HttpClient.Redirect.NORMAL).build();
    HttpResponse<byte[]> r = jdk.send(HttpRequest.newBuilder(URI.create(registry.blobUrl(REPO, blob.digest())))
        .header("User-Agent", "ollama/0.13.5 (amd64 linux) Go/go1.24.1").build(), HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, r.statusCode());
    assertArrayEquals(Files.readAllBytes(blob.file()), r.body());
    List<String> servers = registry.stats().recentRequests().stream().map(RequestRecord::server).toList();
    assertEquals(List.of("registry", "hub", "cdn"), servers);
    assertEquals(blob.size(), registry.stats().blobBytes(blob.digest()));
  }

  @Test
  void theSignIsBoundToTheRepositoryAsSpelled() {
    String location = hubLocation(q4.largestLayer());
    RawResponse lower = RawHttp.get(location.replace(REPO, REPO.toLowerCase()));
    assertEquals(403, lower.status());
    assertEquals("application/json; charset=utf-8", lower.header("Content-Type").orElse(""));
    assertTrue(new JsonObject(lower.bodyText()).containsKey("error"), lower.bodyText());
    assertEquals(403, RawHttp.get(location.substring(0, location.indexOf('?'))).status(), "no __sign");
    String forged = location.substring(0, location.lastIndexOf('.') + 1) + "AAAA";
    assertEquals(403, RawHttp.get(forged).status());
  }

  @Test
  void aSignExpiresAfter600SecondsByTheInjectedClock() {
    String location = hubLocation(q4.largestLayer());
    clock.advance(Duration.ofSeconds(599));
    try {
      assertEquals(302, RawHttp.get(location).status());
      clock.advance(Duration.ofSeconds(1));
      RawResponse expired = RawHttp.get(location);
      assertEquals(403, expired.status());
      assertTrue(expired.bodyText().contains("Expired"), expired.bodyText());
      assertEquals(302, RawHttp.get(hubLocation(q4.largestLayer())).status(), "a fresh redirect gives a fresh sign");
    } finally {
      clock.advance(Duration.ofSeconds(-600));
    }
  }

  @Test
  void expireIssuedSignsInvalidatesEverySignIssuedSoFar() {
    String before = hubLocation(q8.largestLayer());
    registry.expireIssuedSigns();
    assertEquals(403, RawHttp.get(before).status());
    assertEquals(302, RawHttp.get(hubLocation(q8.largestLayer())).status());
  }

  @Test
  void signValidityIsConfigurable() {
    ManualClock own = ManualClock.fixed();
    try (FakeRegistry r = FakeRegistry.builder().huggingFace().clock(own).signValidity(Duration.ofSeconds(30)).build()
        .publish(REPO, "Q4_K_M", q4).start()) {
      String location = RawHttp.get(r.blobUrl(REPO, q4.largestLayer().digest())).header("Location").orElseThrow();
      own.advance(Duration.ofSeconds(29));
      assertEquals(302, RawHttp.get(location).status(), "still valid a second before it expires");
      own.advance(Duration.ofSeconds(1));
      assertEquals(403, RawHttp.get(location).status(), "expired at 30 s");
    }
  }

  @Test
  void aHubHeadAlsoRedirectsAndOtherPathsAre404() {
    String location = hubLocation(q8.largestLayer());
    assertEquals(302, RawHttp.head(location).status());
    assertEquals(1, registry.stats().requests(RequestKind.HUB_HEAD));
    assertEquals(404, RawHttp.get(registry.hubUrl() + "/v2/" + REPO + "/manifests/Q8_0").status());
    assertEquals(404, RawHttp.get(registry.signedHubUrl(REPO, q4.largestLayer().digest())
        .replace(q4.largestLayer().digest().hex(), "0".repeat(64))).status());
  }
}
