package io.pullmesh.testkit.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hugging Face's 429 for requests without a HF token, on the registry and the hub but not the CDN. */
class TokenWallTest {
  static final String REPO = "unsloth/Qwen3-0.6B-GGUF";
  static final Map<String, String> TOKEN = Map.of("Authorization", "Bearer hf_secret");
  static final String WORDS = "{\"error\":\"We had to rate limit your IP (127.0.0.1). To continue using our service, "
      + "create a HF account or login to your existing account, and make sure you pass a HF_TOKEN if you're using the "
      + "API.\"}";

  @TempDir
  static Path dir;
  static FakeModel model;
  static FakeRegistry registry;

  @BeforeAll
  static void start() {
    model = ModelFixture.of(REPO, "Q4_K_M").layer(MediaTypes.MODEL, 50_000).seed(51).create(dir);
    registry = FakeRegistry.builder().huggingFace().requireToken("hf_secret").build().publish(REPO, "Q4_K_M", model)
        .start();
  }

  @AfterAll
  static void stop() {
    registry.close();
  }

  @AfterEach
  void reset() {
    registry.setRequiredToken("hf_secret");
    registry.resetCounters();
  }

  @Test
  void withoutTheTokenTheRegistryAnswers429WithHuggingFacesWordsAndNoChallenge() {
    RawResponse r = RawHttp.get(registry.manifestUrl(REPO, "Q4_K_M"));
    assertEquals(429, r.status());
    assertEquals(WORDS, r.bodyText());
    assertEquals("application/json; charset=utf-8", r.header("Content-Type").orElse(""));
    assertFalse(r.hasHeader("WWW-Authenticate"));
    assertEquals(429, RawHttp.get(registry.blobUrl(REPO, model.largestLayer().digest())).status());
    assertEquals(429, RawHttp.get(registry.manifestUrl(REPO, "Q4_K_M"), Map.of("Authorization", "Bearer other")).status());
    assertEquals(429, RawHttp.get(registry.registryUrl() + "/v2/").status(), "the wall comes before any route");
  }

  @Test
  void withTheTokenTheRegistryAndHubAnswerButTheCdnStillRefusesAnyAuthorization() {
    assertEquals(200, RawHttp.get(registry.manifestUrl(REPO, "Q4_K_M"), TOKEN).status());
    String hub = RawHttp.get(registry.blobUrl(REPO, model.largestLayer().digest()), TOKEN).header("Location").orElseThrow();
    RawResponse anonymous = RawHttp.get(hub);
    assertEquals(429, anonymous.status());
    // the client's address as the hub saw it (127.0.0.1 on Linux; another loopback address elsewhere)
    assertEquals(WORDS, anonymous.bodyText().replaceFirst("IP \\(127\\.[0-9.]+\\)", "IP (127.0.0.1)"));
    RawResponse redirect = RawHttp.get(hub, TOKEN);
    assertEquals(302, redirect.status());
    String cdn = redirect.header("Location").orElseThrow();
    assertEquals(400, RawHttp.get(cdn, TOKEN).status(), "the CDN refuses a second auth mechanism");
    assertEquals(200, RawHttp.get(cdn).status());
  }

  @Test
  void theWallCanBeLoweredAndAppliesToAnyFlavour() {
    registry.setRequiredToken(null);
    assertNull(registry.requiredToken());
    assertEquals(200, RawHttp.get(registry.manifestUrl(REPO, "Q4_K_M")).status());
    try (FakeRegistry ollama = FakeRegistry.builder().requireToken("t").build().addModel(model).start()) {
      assertEquals(429, RawHttp.get(ollama.manifestUrl(model.repository(), "Q4_K_M")).status());
      assertEquals(200, RawHttp.get(ollama.manifestUrl(model.repository(), "Q4_K_M"),
          Map.of("Authorization", "Bearer t")).status());
    }
  }

  @Test
  void refusedRequestsAreLoggedWithTheirStatus() {
    RawHttp.get(registry.manifestUrl(REPO, "Q4_K_M"), Map.of("User-Agent", "ollama/0.13.0 (amd64 windows) Go/go1.24.1"));
    RequestRecord r = registry.stats().recentRequests().get(0);
    assertEquals(429, r.status());
    assertEquals(RequestKind.MANIFEST, r.kind());
    assertEquals("ollama/0.13.0 (amd64 windows) Go/go1.24.1", r.userAgent());
  }
}
