package io.pullmesh.testkit.registry;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.client.PullResult;
import io.pullmesh.testkit.fault.Fault;
import io.pullmesh.testkit.fault.FaultRule;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ModelScope flavour: blob GETs redirect to the hub's {@code /blobs/download/}, which serves the bytes itself. */
class ModelScopeFlavourTest {
  static final String REPO = "lmstudio-community/DeepSeek-R1-Distill-Qwen-32B-GGUF";
  static final int SIZE = 400_000;

  @TempDir
  static Path dir;
  static FakeModel model;
  static FakeBlob blob;
  static byte[] bytes;
  static FakeRegistry registry;

  @TempDir
  Path dest;

  @BeforeAll
  static void start() throws Exception {
    model = ModelFixture.of(REPO, "latest").layer(MediaTypes.MODEL, SIZE).layer(MediaTypes.PARAMS, 60).seed(61)
        .create(dir);
    blob = model.largestLayer();
    bytes = Files.readAllBytes(blob.file());
    registry = FakeRegistry.builder().modelScope().build().publish(REPO, "latest", model).start();
  }

  @AfterAll
  static void stop() {
    registry.close();
  }

  @AfterEach
  void reset() {
    registry.resetCounters();
    registry.hubFaults().clear();
  }

  private static String downloadUrl() {
    RawResponse r = RawHttp.get(registry.blobUrl(REPO, blob.digest()));
    assertEquals(307, r.status());
    return r.header("Location").orElseThrow();
  }

  @Test
  void aBlobGetIs307ToTheDownloadPathOnTheHub() {
    URI location = URI.create(downloadUrl());
    assertEquals("127.0.0.3", location.getHost());
    assertEquals("/v2/" + REPO + "/blobs/download/" + blob.digest(), location.getPath());
    assertEquals(null, location.getQuery());
    assertEquals(registry.hubDownloadUrl(REPO, blob.digest()), location.toString());
  }

  @Test
  void theHubServesExactRanges() {
    String url = downloadUrl();
    RawResponse part = RawHttp.get(url, Map.of("Range", "bytes=1000-1999"));
    assertEquals(206, part.status());
    assertEquals("bytes 1000-1999/" + SIZE, part.header("Content-Range").orElse(""));
    assertArrayEquals(Arrays.copyOfRange(bytes, 1000, 2000), part.body());
    RawResponse whole = RawHttp.get(url);
    assertEquals(200, whole.status());
    assertArrayEquals(bytes, whole.body());
    RawResponse beyond = RawHttp.get(url, Map.of("Range", "bytes=" + SIZE + "-"));
    assertEquals(416, beyond.status());
    assertEquals("bytes */" + SIZE, beyond.header("Content-Range").orElse(""));
    RawResponse head = RawHttp.head(url);
    assertEquals(Integer.toString(SIZE), head.header("Content-Length").orElse(""));

    assertEquals(1000 + SIZE, registry.stats().hubBlobBytes(blob.digest()));
    assertEquals(1000 + SIZE, registry.stats().blobBytes(), "upstream bytes include the hub's");
    assertEquals(0, registry.stats().cdnBlobBytes());
    assertEquals(3, registry.stats().requests(RequestKind.HUB_GET));
    assertEquals(1, registry.stats().requests(RequestKind.HUB_HEAD));
  }

  @Test
  void unknownBlobsAndOtherPathsAre404() {
    assertEquals(404, RawHttp.get(registry.hubDownloadUrl(REPO, io.pullmesh.core.Digest.ofHex("0".repeat(64)))).status());
    assertEquals(404, RawHttp.get(registry.hubUrl() + "/v2/" + REPO + "/blobs/" + blob.digest()).status());
    assertEquals(404, RawHttp.get(registry.hubDownloadUrl("someone/else", blob.digest())).status());
  }

  @Test
  void hubFaultsApplyToItsBodies() {
    registry.hubFaults().add(FaultRule.once(Fault.status(503)));
    assertEquals(503, RawHttp.get(downloadUrl()).status());
    assertEquals(200, RawHttp.get(downloadUrl()).status());
  }

  @Test
  void theOllamaLikeClientPullsThroughTheHub() throws Exception {
    try (OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
      PullResult result = client.pull(registry.registryUrl(), REPO + ":latest", dest);
      assertEquals(model.manifestDigest(), result.manifestDigest());
    }
    assertEquals(model.totalBytes(), registry.stats().hubBlobBytes());
    assertEquals(model.totalBytes(), registry.stats().blobBytes());
    assertTrue(registry.stats().recentRequests().stream()
        .anyMatch(r -> r.server().equals("hub") && r.status() == 206), "parts are ranged GETs on the hub");
  }
}
