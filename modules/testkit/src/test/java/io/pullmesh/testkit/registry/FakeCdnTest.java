package io.pullmesh.testkit.registry;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Digest;
import io.pullmesh.testkit.ManualClock;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The fake CDN behaves like a presigned-URL S3/R2 bucket. */
class FakeCdnTest {
  static final int SIZE = 1_000_000;

  @TempDir
  static Path dir;
  static FakeModel model;
  static FakeBlob blob;
  static byte[] bytes;
  static final ManualClock clock = ManualClock.fixed();
  static FakeRegistry registry;

  @BeforeAll
  static void start() throws Exception {
    model = ModelFixture.of("library/tiny", "latest").layer(MediaTypes.MODEL, SIZE).seed(5).create(dir);
    blob = model.largestLayer();
    bytes = Files.readAllBytes(blob.file());
    registry = FakeRegistry.builder().clock(clock).build().addModel(model).start();
  }

  @AfterAll
  static void stop() {
    registry.close();
  }

  @AfterEach
  void reset() {
    registry.resetCounters();
  }

  private static String url() {
    return registry.signedCdnUrl(blob.digest());
  }

  @Test
  void wholeBlobWithoutRange() {
    RawResponse r = RawHttp.get(url());
    assertEquals(200, r.status());
    assertEquals(Integer.toString(SIZE), r.header("Content-Length").orElse(""));
    assertEquals("bytes", r.header("Accept-Ranges").orElse(""));
    assertFalse(r.chunked());
    assertArrayEquals(bytes, r.body());
    assertEquals(SIZE, registry.stats().cdnBlobBytes(blob.digest()));
    assertEquals(1, registry.stats().requests(RequestKind.CDN_GET_UNRANGED));
  }

  @ParameterizedTest(name = "{0} -> {1}-{2}")
  @CsvSource({
      "bytes=0-0, 0, 0",
      "bytes=100-199, 100, 199",
      "bytes=999000-, 999000, 999999",
      "bytes=-500, 999500, 999999",
      "bytes=999990-2000000, 999990, 999999",
      "bytes=0-999999, 0, 999999"
  })
  void satisfiableRangesGet206(String range, long first, long last) {
    RawResponse r = RawHttp.get(url(), Map.of("Range", range));
    assertEquals(206, r.status());
    assertEquals("bytes " + first + "-" + last + "/" + SIZE, r.header("Content-Range").orElse(""));
    assertEquals(Long.toString(last - first + 1), r.header("Content-Length").orElse(""));
    assertArrayEquals(Arrays.copyOfRange(bytes, (int) first, (int) last + 1), r.body());
    assertEquals(1, registry.stats().requests(RequestKind.CDN_GET_RANGED));
  }

  @Test
  void unsatisfiableRangeGets416() {
    RawResponse r = RawHttp.get(url(), Map.of("Range", "bytes=" + SIZE + "-"));
    assertEquals(416, r.status());
    assertEquals("bytes */" + SIZE, r.header("Content-Range").orElse(""));
    assertEquals(0, registry.stats().cdnBlobBytes());
  }

  @Test
  void multipleRangesAndMalformedHeadersAreIgnoredLikeS3() {
    for (String range : new String[] {"bytes=0-9,20-29", "bytes=abc", "items=0-9"}) {
      RawResponse r = RawHttp.get(url(), Map.of("Range", range));
      assertEquals(200, r.status(), range);
      assertEquals(SIZE, r.body().length, range);
    }
  }

  @Test
  void headGivesTheLengthAndNoBody() {
    RawResponse whole = RawHttp.head(url());
    assertEquals(200, whole.status());
    assertEquals(Integer.toString(SIZE), whole.header("Content-Length").orElse(""));
    RawResponse ranged = RawHttp.head(url(), Map.of("Range", "bytes=10-19"));
    assertEquals(206, ranged.status());
    assertEquals("10", ranged.header("Content-Length").orElse(""));
    assertEquals(0, registry.stats().cdnBlobBytes());
    assertEquals(2, registry.stats().requests(RequestKind.CDN_HEAD));
  }

  @Test
  void refusesAnyRequestCarryingAuthorization() {
    RawResponse r = RawHttp.get(url(), Map.of("Authorization", "Bearer registry-token"));
    assertEquals(400, r.status());
    assertTrue(r.bodyText().contains("<Code>InvalidArgument</Code>"), r.bodyText());
    assertTrue(registry.stats().recentRequests().get(0).authorization());
    assertEquals(0, registry.stats().cdnBlobBytes());
  }

  @Test
  void refusesMissingOrBadSignatures() {
    RawResponse unsigned = RawHttp.get(registry.unsignedCdnUrl(blob.digest()));
    assertEquals(403, unsigned.status());
    assertTrue(unsigned.bodyText().contains("<Code>AccessDenied</Code>"), unsigned.bodyText());

    String tampered = url().replaceAll("X-Amz-Signature=[0-9a-f]{4}", "X-Amz-Signature=0000");
    RawResponse bad = RawHttp.get(tampered);
    assertEquals(403, bad.status());
    assertTrue(bad.bodyText().contains("<Code>SignatureDoesNotMatch</Code>"), bad.bodyText());

    // A valid signature for one blob does not open another blob's path.
    Digest other = model.config().digest();
    String moved = url().replace(blob.digest().hex().substring(0, 2) + "/" + blob.digest().hex(),
        other.hex().substring(0, 2) + "/" + other.hex());
    assertEquals(403, RawHttp.get(moved).status());
    assertEquals(0, registry.stats().cdnBlobBytes());
  }

  @Test
  void urlsExpireByTheInjectedClock() {
    String url = url();
    clock.advance(Duration.ofHours(24).minusSeconds(1));
    try {
      assertEquals(200, RawHttp.head(url).status());
      clock.advance(Duration.ofSeconds(2));
      RawResponse expired = RawHttp.get(url);
      assertEquals(403, expired.status());
      assertTrue(expired.bodyText().contains("Request has expired"), expired.bodyText());
      assertEquals(200, RawHttp.head(url()).status(), "a freshly issued URL works");
    } finally {
      clock.advance(Duration.ofHours(-24).minusSeconds(1));
    }
  }

  @Test
  void expireIssuedUrlsInvalidatesEveryUrlIssuedSoFar() {
    String before = url();
    registry.expireIssuedUrls();
    RawResponse r = RawHttp.get(before);
    assertEquals(403, r.status());
    assertTrue(r.bodyText().contains("Request has expired"), r.bodyText());
    assertEquals(200, RawHttp.head(url()).status());
  }

  @Test
  void unknownKeyIsNoSuchKey() {
    Digest gone = Digest.ofHex("1".repeat(64));
    RawResponse r = RawHttp.get(registry.signedCdnUrl(gone));
    assertEquals(404, r.status());
    assertTrue(r.bodyText().contains("<Code>NoSuchKey</Code>"), r.bodyText());
  }

  @Test
  void otherMethodsAreRefused() {
    assertEquals(405, RawHttp.request("DELETE", url(), Map.of(), RawHttp.DEFAULT_TIMEOUT).status());
  }
}
