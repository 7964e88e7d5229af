package io.pullmesh.testkit.registry;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.fault.Fault;
import io.pullmesh.testkit.fault.FaultRule;
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

/** Each fault type is observable on the wire. */
class FaultInjectionTest {
  static final int SIZE = 600_000;

  @TempDir
  static Path dir;
  static FakeModel model;
  static FakeBlob blob;
  static byte[] bytes;
  static FakeRegistry registry;

  @BeforeAll
  static void start() throws Exception {
    model = ModelFixture.of("library/tiny", "latest").layer(MediaTypes.MODEL, SIZE).layer(MediaTypes.LICENSE, 900)
        .seed(9).create(dir);
    blob = model.largestLayer();
    bytes = Files.readAllBytes(blob.file());
    registry = FakeRegistry.start(model);
  }

  @AfterAll
  static void stop() {
    registry.close();
  }

  @AfterEach
  void reset() {
    registry.cdnFaults().clear();
    registry.registryFaults().clear();
    registry.setDirectMode(false);
    registry.resetCounters();
  }

  private static String url() {
    return registry.signedCdnUrl(blob.digest());
  }

  @Test
  void statusForTheNextNRequests() {
    FaultRule rule = registry.cdnFaults().add(FaultRule.next(2, Fault.status(503)));
    for (int i = 0; i < 2; i++) {
      RawResponse r = RawHttp.get(url(), Map.of("Range", "bytes=0-99"));
      assertEquals(503, r.status());
      assertEquals("0", r.header("Content-Length").orElse(""));
      assertEquals(0, r.body().length);
    }
    assertEquals(206, RawHttp.get(url(), Map.of("Range", "bytes=0-99")).status());
    assertEquals(2, rule.applied());
  }

  @Test
  void dropAfterClosesTheConnectionAfterThatManyBodyBytes() {
    registry.cdnFaults().add(FaultRule.once(Fault.dropAfter(70_000)));
    RawResponse r = RawHttp.get(url());
    assertEquals(200, r.status());
    assertEquals(Integer.toString(SIZE), r.header("Content-Length").orElse(""), "announces the full length");
    assertFalse(r.complete());
    assertFalse(r.timedOut(), "the server closed, it did not stall");
    assertEquals(70_000, r.body().length);
    assertArrayEquals(Arrays.copyOf(bytes, 70_000), r.body());
    assertEquals(70_000, registry.stats().cdnBlobBytes(blob.digest()));
  }

  @Test
  void stallAfterSendsThatManyBytesThenNothingWithTheConnectionOpen() {
    registry.cdnFaults().add(FaultRule.once(Fault.stallAfter(5_000)));
    // The read timeout is how a client notices a stall: nothing else can show "no more bytes".
    RawResponse r = RawHttp.request("GET", url(), Map.of("Range", "bytes=1000-"), Duration.ofMillis(300));
    assertEquals(206, r.status());
    assertTrue(r.timedOut(), r.toString());
    assertEquals(5_000, r.body().length);
    assertArrayEquals(Arrays.copyOfRange(bytes, 1000, 6000), r.body());
  }

  @Test
  void corruptFlipsTheByteAtThatBlobOffsetWheneverItIsServed() {
    registry.cdnFaults().add(FaultRule.always(Fault.corrupt(500)));
    RawResponse covering = RawHttp.get(url(), Map.of("Range", "bytes=400-599"));
    assertEquals((byte) ~bytes[500], covering.body()[100]);
    byte[] expected = Arrays.copyOfRange(bytes, 400, 600);
    expected[100] = (byte) ~expected[100];
    assertArrayEquals(expected, covering.body());
    RawResponse notCovering = RawHttp.get(url(), Map.of("Range", "bytes=501-600"));
    assertArrayEquals(Arrays.copyOfRange(bytes, 501, 601), notCovering.body());
    RawResponse whole = RawHttp.get(url());
    assertNotEquals(bytes[500], whole.body()[500]);
  }

  @Test
  void ignoreRangeAnswers200WithTheWholeBlob() {
    registry.cdnFaults().add(FaultRule.once(Fault.ignoreRange()));
    RawResponse r = RawHttp.get(url(), Map.of("Range", "bytes=100-199"));
    assertEquals(200, r.status());
    assertFalse(r.hasHeader("Content-Range"));
    assertArrayEquals(bytes, r.body());
  }

  @Test
  void delayHoldsTheAnswerBack() {
    registry.cdnFaults().add(FaultRule.once(Fault.delay(Duration.ofMillis(300))));
    long start = System.nanoTime();
    RawResponse r = RawHttp.get(url(), Map.of("Range", "bytes=0-9"));
    long elapsedMs = (System.nanoTime() - start) / 1_000_000;
    assertEquals(206, r.status());
    assertTrue(elapsedMs >= 300, "answered after " + elapsedMs + " ms");
  }

  @Test
  void rulesCanTargetOneDigestAndHeads() {
    FakeBlob license = model.layers().get(1);
    registry.cdnFaults().add(FaultRule.always(Fault.status(500)).forDigest(license.digest()).includingHead());
    assertEquals(200, RawHttp.get(url()).status());
    assertEquals(500, RawHttp.get(registry.signedCdnUrl(license.digest())).status());
    assertEquals(500, RawHttp.head(registry.signedCdnUrl(license.digest())).status());
  }

  @Test
  void registryFaultsApplyToBlobsItServesItself() {
    registry.setDirectMode(true);
    registry.registryFaults().add(FaultRule.once(Fault.dropAfter(1234)));
    RawResponse r = RawHttp.get(registry.blobUrl("library/tiny", blob.digest()));
    assertEquals(200, r.status());
    assertEquals(1234, r.body().length);
    assertEquals(1234, registry.stats().registryBlobBytes(blob.digest()));
    assertTrue(registry.cdnFaults().rules().isEmpty());
  }
}
