package io.pullmesh.testkit.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.ManualClock;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.client.PullException;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Optional bearer auth: challenge, token endpoint with Basic credentials, and the CDN refusing leaked tokens. */
class AuthTest {
  static final String BASIC = "Basic " + Base64.getEncoder().encodeToString("alice:secret".getBytes(StandardCharsets.UTF_8));

  @TempDir
  static Path dir;
  static FakeModel model;
  static final ManualClock clock = ManualClock.fixed();
  static FakeRegistry registry;

  @TempDir
  Path dest;

  @BeforeAll
  static void start() {
    model = ModelFixture.of("library/tiny", "latest").layer(MediaTypes.MODEL, 600_000).layer(MediaTypes.PARAMS, 50)
        .seed(4).create(dir);
    registry = FakeRegistry.builder().clock(clock).requireAuth(true).tokenCredentials("alice", "secret").build()
        .addModel(model).start();
  }

  @AfterAll
  static void stop() {
    registry.close();
  }

  @AfterEach
  void reset() {
    registry.resetCounters();
  }

  private static String token() {
    RawResponse r = RawHttp.get(registry.registryUrl() + "/token?service=fake-registry&scope=repository:library/tiny:pull",
        Map.of("Authorization", BASIC));
    assertEquals(200, r.status(), r.bodyText());
    JsonObject json = new JsonObject(r.bodyText());
    assertEquals(json.getString("token"), json.getString("access_token"));
    assertEquals(300, json.getInteger("expires_in"));
    return json.getString("token");
  }

  @Test
  void withoutATokenTheRegistryChallenges() {
    RawResponse r = RawHttp.get(registry.manifestUrl("library/tiny", "latest"));
    assertEquals(401, r.status());
    assertEquals("Bearer realm=\"" + registry.registryUrl() + "/token\",service=\"fake-registry\","
        + "scope=\"repository:library/tiny:pull\"", r.header("WWW-Authenticate").orElse(""));
    assertTrue(r.bodyText().contains("UNAUTHORIZED"), r.bodyText());
    assertEquals(401, RawHttp.head(registry.blobUrl("library/tiny", model.largestLayer().digest())).status());
    assertEquals(404, RawHttp.get(registry.registryUrl() + "/v2/").status(), "still no ping");
  }

  @Test
  void tokenEndpointWantsTheBasicCredentials() {
    RawResponse none = RawHttp.get(registry.registryUrl() + "/token?service=fake-registry");
    assertEquals(401, none.status());
    assertTrue(none.header("WWW-Authenticate").orElse("").startsWith("Basic "));
    RawResponse wrong = RawHttp.get(registry.registryUrl() + "/token", Map.of("Authorization",
        "Basic " + Base64.getEncoder().encodeToString("alice:nope".getBytes(StandardCharsets.UTF_8))));
    assertEquals(401, wrong.status());
    token();
    assertEquals(3, registry.tokenRequests());
  }

  @Test
  void aTokenOpensManifestsAndBlobsButTheCdnRefusesIt() {
    String auth = "Bearer " + token();
    assertEquals(200, RawHttp.get(registry.manifestUrl("library/tiny", "latest"), Map.of("Authorization", auth)).status());
    RawResponse redirect = RawHttp.get(registry.blobUrl("library/tiny", model.largestLayer().digest()),
        Map.of("Authorization", auth));
    assertEquals(307, redirect.status());
    String location = redirect.header("Location").orElseThrow();
    assertEquals(400, RawHttp.get(location, Map.of("Authorization", auth)).status(), "a leaked token is refused");
    assertEquals(200, RawHttp.get(location).status());
  }

  @Test
  void tokensExpireAndCanBeRevoked() {
    String auth = "Bearer " + token();
    String manifest = registry.manifestUrl("library/tiny", "latest");
    assertEquals(401, RawHttp.get(manifest, Map.of("Authorization", "Bearer made-up")).status());
    clock.advance(Duration.ofSeconds(301));
    assertEquals(401, RawHttp.get(manifest, Map.of("Authorization", auth)).status());
    String fresh = "Bearer " + token();
    assertEquals(200, RawHttp.get(manifest, Map.of("Authorization", fresh)).status());
    registry.revokeTokens();
    assertEquals(401, RawHttp.get(manifest, Map.of("Authorization", fresh)).status());
  }

  @Test
  void theOllamaLikeClientFetchesOneTokenAndNeverSendsItToTheCdn() throws Exception {
    try (OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests()
        .tokenCredentials("alice", "secret").build())) {
      client.pull(registry.registryUrl(), "library/tiny:latest", dest);
    }
    assertEquals(1, registry.tokenRequests(), "the token is kept for the whole pull");
    long cdnWithAuth = registry.stats().recentRequests().stream()
        .filter(r -> r.server().equals("cdn") && r.authorization()).count();
    assertEquals(0, cdnWithAuth);
    assertTrue(registry.stats().cdnGets() > 0);
    assertFalse(registry.stats().recentRequests().stream()
        .anyMatch(r -> r.server().equals("registry") && r.status() == 401 && r.kind() != RequestKind.MANIFEST),
        "only the first request was challenged");
  }

  @Test
  void withoutCredentialsThePullFailsAtTheTokenEndpoint() {
    try (OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
      PullException e = assertThrows(PullException.class,
          () -> client.pull(registry.registryUrl(), "library/tiny:latest", dest));
      assertTrue(e.getMessage().startsWith("pull model manifest: 401: "), e.getMessage());
    }
  }

  @Test
  void aRealmOnAnotherHostIsRefusedByTheClient() {
    // Ollama #13738: the token request must go to the host asked. Asked "localhost", the realm says 127.0.0.1.
    try (OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests()
        .tokenCredentials("alice", "secret").build())) {
      String viaLocalhost = "http://localhost:" + registry.registryPort();
      PullException e = assertThrows(PullException.class,
          () -> client.pull(viaLocalhost, "library/tiny:latest", dest));
      assertTrue(e.getMessage().contains("realm host \"127.0.0.1:" + registry.registryPort()
          + "\" does not match original host \"localhost:" + registry.registryPort() + "\""), e.getMessage());
      assertEquals(0, registry.tokenRequests());
    }
  }
}
