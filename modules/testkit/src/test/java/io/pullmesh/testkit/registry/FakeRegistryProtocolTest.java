package io.pullmesh.testkit.registry;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Digest;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The fake registry answers like registry.ollama.ai, quirks included. */
class FakeRegistryProtocolTest {
  @TempDir
  static Path dir;
  static FakeModel model;
  static FakeRegistry registry;

  @BeforeAll
  static void start() {
    model = ModelFixture.of("library/tiny", "latest")
        .layer(MediaTypes.MODEL, 100_000).layer(MediaTypes.TEMPLATE, 120).seed(11).create(dir);
    registry = FakeRegistry.start(model);
  }

  @AfterAll
  static void stop() {
    registry.close();
  }

  @AfterEach
  void reset() {
    registry.resetCounters();
    registry.setDirectMode(false);
    registry.setHeadRedirects(false);
    registry.setRedirectStatus(307);
  }

  @Test
  void listensOnTwoLoopbackHostNames() {
    assertTrue(registry.registryUrl().startsWith("http://127.0.0.1:"), registry.registryUrl());
    assertTrue(registry.cdnUrl().startsWith("http://127.0.0.2:"), registry.cdnUrl());
  }

  @Test
  void noPingNoTagList() {
    assertEquals(404, RawHttp.get(registry.registryUrl() + "/v2/").status());
    assertEquals(404, RawHttp.get(registry.registryUrl() + "/v2/library/tiny/tags/list").status());
    assertEquals(404, RawHttp.get(registry.registryUrl() + "/").status());
    assertEquals(3, registry.stats().requests(RequestKind.OTHER));
  }

  @Test
  void manifestIsChunkedTextPlainWithoutContentLength() {
    RawResponse r = RawHttp.get(registry.manifestUrl("library/tiny", "latest"),
        Map.of("Accept", MediaTypes.MANIFEST_V2));
    assertEquals(200, r.status());
    assertEquals("text/plain; charset=utf-8", r.header("Content-Type").orElse(""));
    assertTrue(r.chunked(), r.toString());
    assertFalse(r.hasHeader("Content-Length"), r.toString());
    assertArrayEquals(model.manifestBytes(), r.body());
    assertEquals(1, registry.stats().requests(RequestKind.MANIFEST));
  }

  @Test
  void manifestByDigestAndHead() {
    RawResponse byDigest = RawHttp.get(registry.manifestUrl("library/tiny", model.manifestDigest().toString()));
    assertEquals(200, byDigest.status());
    assertArrayEquals(model.manifestBytes(), byDigest.body());
    RawResponse head = RawHttp.head(registry.manifestUrl("library/tiny", "latest"));
    assertEquals(200, head.status());
    assertEquals(0, head.body().length);
  }

  @Test
  void unknownManifestIsManifestUnknown() {
    RawResponse r = RawHttp.get(registry.manifestUrl("library/tiny", "nope"));
    assertEquals(404, r.status());
    assertTrue(r.bodyText().contains("\"code\":\"MANIFEST_UNKNOWN\""), r.bodyText());
    assertEquals(404, RawHttp.get(registry.manifestUrl("library/other", "latest")).status());
  }

  @Test
  void blobGetRedirectsToASignedUrlOnTheCdnHost() {
    FakeBlob blob = model.largestLayer();
    RawResponse r = RawHttp.get(registry.blobUrl("library/tiny", blob.digest()));
    assertEquals(307, r.status());
    String location = r.header("Location").orElseThrow();
    URI uri = URI.create(location);
    assertEquals("127.0.0.2", uri.getHost());
    assertEquals(registry.cdnPort(), uri.getPort());
    String hex = blob.digest().hex();
    assertEquals("/ollama/docker/registry/v2/blobs/sha256/" + hex.substring(0, 2) + "/" + hex + "/data", uri.getPath());
    assertTrue(Pattern.matches("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=[^&]+&X-Amz-Date=\\d{8}T\\d{6}Z"
        + "&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=[0-9a-f]{64}", uri.getRawQuery()),
        uri.getRawQuery());

    RawResponse cdn = RawHttp.get(location);
    assertEquals(200, cdn.status());
    assertEquals(blob.size(), cdn.body().length);
    assertEquals(1, registry.stats().requests(RequestKind.BLOB_GET));
    assertEquals(1, registry.stats().requests(RequestKind.CDN_GET_UNRANGED));
    assertEquals(blob.size(), registry.stats().cdnBlobBytes(blob.digest()));
    assertEquals(0, registry.stats().registryBlobBytes());
  }

  @Test
  void redirectStatusIsConfigurable() {
    registry.setRedirectStatus(302);
    assertEquals(302, RawHttp.get(registry.blobUrl("library/tiny", model.largestLayer().digest())).status());
  }

  @Test
  void blobHeadIs200WithContentLengthOrTheSameRedirect() {
    FakeBlob blob = model.largestLayer();
    RawResponse head = RawHttp.head(registry.blobUrl("library/tiny", blob.digest()));
    assertEquals(200, head.status());
    assertEquals(Long.toString(blob.size()), head.header("Content-Length").orElse(""));
    assertEquals(1, registry.stats().requests(RequestKind.BLOB_HEAD));

    registry.setHeadRedirects(true);
    RawResponse redirected = RawHttp.head(registry.blobUrl("library/tiny", blob.digest()));
    assertEquals(307, redirected.status());
    RawResponse cdnHead = RawHttp.head(redirected.header("Location").orElseThrow());
    assertEquals(200, cdnHead.status());
    assertEquals(Long.toString(blob.size()), cdnHead.header("Content-Length").orElse(""));
    assertEquals(1, registry.stats().requests(RequestKind.CDN_HEAD));
    assertEquals(0, registry.stats().cdnBlobBytes(), "a HEAD sends no body");
  }

  @Test
  void unknownBlobIsBlobUnknownAndBlobsAreScopedByRepository() {
    Digest missing = Digest.ofHex("0".repeat(64));
    RawResponse r = RawHttp.get(registry.blobUrl("library/tiny", missing));
    assertEquals(404, r.status());
    assertTrue(r.bodyText().contains("\"code\":\"BLOB_UNKNOWN\""), r.bodyText());
    assertEquals(404, RawHttp.get(registry.blobUrl("library/other", model.largestLayer().digest())).status());
  }

  @Test
  void directModeServesRangesFromTheRegistry() throws Exception {
    registry.setDirectMode(true);
    FakeBlob blob = model.largestLayer();
    RawResponse r = RawHttp.get(registry.blobUrl("library/tiny", blob.digest()), Map.of("Range", "bytes=10-19"));
    assertEquals(206, r.status());
    assertEquals("bytes 10-19/" + blob.size(), r.header("Content-Range").orElse(""));
    byte[] all = Files.readAllBytes(blob.file());
    assertArrayEquals(java.util.Arrays.copyOfRange(all, 10, 20), r.body());
    assertFalse(r.hasHeader("Location"));
    assertEquals(10, registry.stats().registryBlobBytes(blob.digest()));
    assertEquals(0, registry.stats().cdnBlobBytes());
  }

  @Test
  void requestLogRecordsWhatTheServersSaw() {
    FakeBlob blob = model.largestLayer();
    String location = RawHttp.get(registry.blobUrl("library/tiny", blob.digest())).header("Location").orElseThrow();
    RawHttp.get(location, Map.of("Range", "bytes=0-9"));
    List<RequestRecord> log = registry.stats().recentRequests();
    assertEquals(2, log.size());
    RequestRecord first = log.get(0);
    assertEquals("registry", first.server());
    assertEquals(RequestKind.BLOB_GET, first.kind());
    assertEquals(307, first.status());
    RequestRecord second = log.get(1);
    assertEquals("cdn", second.server());
    assertEquals("GET", second.method());
    assertEquals("bytes=0-9", second.range());
    assertEquals(206, second.status());
    assertFalse(second.authorization());
    assertTrue(second.host().startsWith("127.0.0.2:"), second.host());
  }

  @Test
  void tagsMoveAndOldManifestsStayFetchableByDigest() {
    FakeModel v2 = model.nextVersion();
    registry.addModel(v2);
    try {
      assertArrayEquals(v2.manifestBytes(), RawHttp.get(registry.manifestUrl("library/tiny", "latest")).body());
      assertEquals(200, RawHttp.get(registry.manifestUrl("library/tiny", model.manifestDigest().toString())).status());
      assertEquals(307, RawHttp.get(registry.blobUrl("library/tiny", model.largestLayer().digest())).status());
      registry.publish("library/tiny", "v1", model);
      assertArrayEquals(model.manifestBytes(), RawHttp.get(registry.manifestUrl("library/tiny", "v1")).body());
      assertTrue(registry.unpublish("library/tiny", "v1"));
      assertEquals(404, RawHttp.get(registry.manifestUrl("library/tiny", "v1")).status());
    } finally {
      registry.removeModel(v2);
      registry.addModel(model);
    }
    assertEquals(404, RawHttp.get(registry.manifestUrl("library/tiny", v2.manifestDigest().toString())).status());
  }

  @Test
  void stopAndRestartOnTheSamePorts() {
    FakeRegistry r = FakeRegistry.builder().build().addModel(model).start();
    try {
      int port = r.registryPort();
      int cdnPort = r.cdnPort();
      // below Linux's ephemeral range, so no outgoing connection can take them while stopped
      assertTrue(port >= 20000 && port < 32768, "registry port " + port);
      assertTrue(cdnPort >= 20000 && cdnPort < 32768, "cdn port " + cdnPort);
      r.stop();
      assertFalse(r.running());
      r.start();
      assertEquals(port, r.registryPort());
      assertEquals(cdnPort, r.cdnPort());
      assertEquals(200, RawHttp.get(r.manifestUrl("library/tiny", "latest")).status());
    } finally {
      r.close();
    }
  }
}
