package io.pullmesh.testkit.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.fault.Fault;
import io.pullmesh.testkit.fault.FaultRule;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import io.pullmesh.testkit.registry.RequestKind;
import io.pullmesh.testkit.registry.RequestRecord;
import io.pullmesh.testkit.registry.TrafficStats;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Ollama-like client against the fake registry, directly (no mirror in between). */
class OllamaLikeClientTest {
  static final long MODEL_SIZE = 3L << 20;
  static final long PART = 256 * 1024;

  @TempDir
  static Path fixtures;
  static FakeModel model;
  static FakeRegistry registry;
  static OllamaLikeClient client;

  @TempDir
  Path dest;

  @BeforeAll
  static void start() {
    model = ModelFixture.of("library/tiny", "latest")
        .layer(MediaTypes.MODEL, MODEL_SIZE)
        .layer(MediaTypes.TEMPLATE, 311)
        .layer(MediaTypes.PARAMS, 97)
        .seed(21)
        .create(fixtures);
    registry = FakeRegistry.start(model);
    client = new OllamaLikeClient(ClientOptions.forTests()
        .stallTimeout(Duration.ofSeconds(1))
        .build());
  }

  @AfterAll
  static void stop() {
    client.close();
    registry.close();
  }

  @AfterEach
  void reset() {
    registry.cdnFaults().clear();
    registry.registryFaults().clear();
    registry.setDirectMode(false);
    registry.setRedirectStatus(307);
    registry.setHeadRedirects(false);
    registry.resetCounters();
  }

  private PullResult pull() throws PullException {
    return client.pull(registry.registryUrl(), "library/tiny:latest", dest);
  }

  private PullResult pull(OllamaLikeClient c) throws PullException {
    return c.pull(registry.registryUrl(), "library/tiny:latest", dest);
  }

  private void assertSameBytes(FakeBlob blob) throws Exception {
    Path got = dest.resolve("blobs").resolve("sha256-" + blob.digest().hex());
    assertArrayEquals(Files.readAllBytes(blob.file()), Files.readAllBytes(got), "blob " + blob.digest().shortHex());
  }

  @Test
  void pullsAModelByteForByteInManyRangedParts() throws Exception {
    PullResult result = pull();

    for (FakeBlob b : model.blobs()) {
      assertSameBytes(b);
    }
    Path manifest = dest.resolve("manifests").resolve("127.0.0.1:" + registry.registryPort())
        .resolve("library").resolve("tiny").resolve("latest");
    assertEquals(manifest, result.manifestPath());
    assertArrayEquals(model.manifestBytes(), Files.readAllBytes(manifest));
    assertEquals(model.manifestDigest(), result.manifestDigest());

    List<BlobResult> blobs = result.blobs();
    assertEquals(model.blobs().stream().map(FakeBlob::digest).toList(), blobs.stream().map(BlobResult::digest).toList(),
        "layers in order, then the config");
    BlobResult big = blobs.get(0);
    assertEquals(MODEL_SIZE, big.size());
    assertEquals(MODEL_SIZE / PART, big.parts(), "size/16 is below the minimum: parts of minPart");
    assertEquals(0, big.retries());
    assertEquals(MODEL_SIZE, big.bytesReceived());
    assertTrue(URI.create(big.directUrl()).getHost().equals("127.0.0.2"), big.directUrl());
    assertEquals(model.totalBytes(), result.totalBytes());

    TrafficStats stats = registry.stats();
    assertEquals(1, stats.requests(RequestKind.MANIFEST));
    assertEquals(4, stats.requests(RequestKind.BLOB_HEAD));
    assertEquals(4, stats.requests(RequestKind.BLOB_GET), "one resolution per blob");
    assertEquals(12 + 3, stats.requests(RequestKind.CDN_GET_RANGED));
    assertEquals(0, stats.requests(RequestKind.CDN_GET_UNRANGED));
    assertEquals(model.totalBytes(), stats.cdnBlobBytes());
    for (RequestRecord r : stats.recentRequests()) {
      if (r.server().equals("cdn")) {
        assertFalse(r.authorization(), "no credentials to the CDN: " + r);
        assertEquals(206, r.status(), r.toString());
      }
    }
    assertFalse(Files.list(dest.resolve("blobs")).anyMatch(p -> p.toString().contains("partial")),
        "no partial files left");
  }

  @Test
  void aBlobOnDiskIsAHitAndIsNotReverified() throws Exception {
    pull();
    registry.resetCounters();
    // Damage the stored template: Ollama trusts what it has on disk.
    FakeBlob template = model.layers().get(1);
    Files.write(dest.resolve("blobs").resolve("sha256-" + template.digest().hex()), new byte[] {1, 2, 3});
    PullResult again = pull();
    assertEquals(4, again.cacheHits());
    assertEquals(0, registry.stats().requests(RequestKind.BLOB_HEAD));
    assertEquals(0, registry.stats().cdnGets());
  }

  @Test
  void aCdnIgnoringRangeCorruptsEveryPartButTheFirst() {
    // The client never checks for 206: a 200 with the whole body is copied into each part.
    registry.cdnFaults().add(FaultRule.always(Fault.ignoreRange()).forDigest(model.largestLayer().digest()));
    PullException e = assertThrows(PullException.class, this::pull);
    assertTrue(e.getMessage().startsWith("digest mismatch, file must be downloaded again: want "
        + model.largestLayer().digest()), e.getMessage());
    assertFalse(Files.exists(dest.resolve("blobs").resolve("sha256-" + model.largestLayer().digest().hex())),
        "a mismatching blob is deleted");
    assertFalse(Files.exists(dest.resolve("manifests")));
    BlobResult big = e.blobsSoFar().get(0);
    assertEquals(0, big.retries(), "every part 'succeeded'");
    assertEquals(MODEL_SIZE, big.bytesReceived(), "each part read only its own length of the whole body");
  }

  @Test
  void aCorruptByteIsCaughtByTheFinalCheck() {
    registry.cdnFaults().add(FaultRule.always(Fault.corrupt(MODEL_SIZE / 2)));
    PullException e = assertThrows(PullException.class, this::pull);
    assertTrue(e.getMessage().contains("digest mismatch"), e.getMessage());
  }

  @Test
  void strictClientNeedsALocationOnA200AndLenientTakesTheBlobUrl() throws Exception {
    registry.setDirectMode(true); // like a plain registry or a naive cache: 200 to the blob GET, no Location
    PullException e = assertThrows(PullException.class, this::pull);
    assertEquals("http: no Location header in response", e.getMessage());

    try (OllamaLikeClient lenient = new OllamaLikeClient(client.options().toBuilder()
        .redirectMode(RedirectMode.LENIENT).build())) {
      PullResult r = pull(lenient);
      for (FakeBlob b : model.blobs()) {
        assertSameBytes(b);
      }
      assertEquals(registry.blobUrl("library/tiny", model.largestLayer().digest()), r.blobs().get(0).directUrl());
      // The resolving GETs got 200s with whole bodies too, closed unread: some of those bytes went out as well.
      assertTrue(registry.stats().registryBlobBytes() >= model.totalBytes());
      assertEquals(0, registry.stats().cdnBlobBytes());
      assertEquals(0, registry.stats().cdnGets());
    }
  }

  @Test
  void a302IsAnUnexpectedStatusForStrictAndFineForLenient() throws Exception {
    registry.setRedirectStatus(302);
    PullException e = assertThrows(PullException.class, this::pull);
    assertEquals("unexpected status code 302", e.getMessage());
    try (OllamaLikeClient lenient = new OllamaLikeClient(client.options().toBuilder()
        .redirectMode(RedirectMode.LENIENT).build())) {
      pull(lenient);
      assertSameBytes(model.largestLayer());
    }
  }

  @Test
  void sizeComesOnlyFromContentLength() {
    // A HEAD answered 200 with Content-Length: 0 gives zero parts, and the final check fails.
    registry.setHeadRedirects(true);
    registry.cdnFaults().add(FaultRule.always(Fault.status(200)).includingHead()
        .forDigest(model.largestLayer().digest()));
    PullException e = assertThrows(PullException.class, this::pull);
    assertTrue(e.getMessage().startsWith("digest mismatch"), e.getMessage());
    assertEquals(0, e.blobsSoFar().get(0).parts());
  }

  @Test
  void droppedConnectionsKeepTheirBytesAndTheRestIsRetried() throws Exception {
    registry.cdnFaults().add(FaultRule.next(5, Fault.dropAfter(100_000)).forDigest(model.largestLayer().digest()));
    PullResult r = pull();
    assertSameBytes(model.largestLayer());
    BlobResult big = r.blobs().get(0);
    assertEquals(5, big.retries());
    assertEquals(MODEL_SIZE, big.bytesReceived(), "an unexpected EOF keeps the bytes: nothing fetched twice");
    assertEquals(12 + 5, registry.stats().requests(RequestKind.CDN_GET_RANGED) - 3);
  }

  @Test
  void errorStatusesAreRetriedWithoutBeingLookedAt() throws Exception {
    registry.cdnFaults().add(FaultRule.next(3, Fault.status(503)).forDigest(model.largestLayer().digest()));
    PullResult r = pull();
    assertSameBytes(model.largestLayer());
    assertEquals(3, r.retries());
  }

  @Test
  void maxRetriesExceeded() throws Exception {
    FakeBlob params = model.layers().get(2);
    registry.cdnFaults().add(FaultRule.always(Fault.status(500)).forDigest(params.digest()));
    try (OllamaLikeClient twoTries = new OllamaLikeClient(client.options().toBuilder().maxTries(2).build())) {
      PullException e = assertThrows(PullException.class, () -> pull(twoTries));
      assertEquals("max retries exceeded: EOF", e.getMessage());
      assertEquals(2, e.blobsSoFar().get(2).retries());
    }
  }

  @Test
  void aStalledPartIsRestartedWithoutUsingATry() throws Exception {
    registry.cdnFaults().add(FaultRule.once(Fault.stallAfter(50_000)).forDigest(model.largestLayer().digest()));
    PullResult r = pull();
    assertSameBytes(model.largestLayer());
    BlobResult big = r.blobs().get(0);
    assertEquals(1, big.stalls());
    assertEquals(0, big.retries());
    assertEquals(MODEL_SIZE, big.bytesReceived(), "the stalled try's bytes were kept");
  }

  @Test
  void anInterruptedPullResumesFromItsPartFiles() throws Exception {
    FakeBlob big = model.largestLayer();
    registry.cdnFaults().add(FaultRule.always(Fault.dropAfter(10_000)).forDigest(big.digest()));
    try (OllamaLikeClient impatient = new OllamaLikeClient(client.options().toBuilder().maxTries(1).build())) {
      assertThrows(PullException.class, () -> pull(impatient));
    }
    try (Stream<Path> files = Files.list(dest.resolve("blobs"))) {
      assertTrue(files.anyMatch(p -> p.getFileName().toString().endsWith("-partial-0")), "part state kept");
    }
    registry.cdnFaults().clear();
    registry.resetCounters();
    PullResult r = pull();
    assertSameBytes(big);
    assertEquals(0, registry.stats().requests(RequestKind.BLOB_HEAD) - 3, "no HEAD for a resumed blob");
    assertTrue(r.blobs().get(0).bytesReceived() < MODEL_SIZE, "resumed, not restarted: " + r.blobs().get(0));
  }

  @Test
  void eachPullResolvesAFreshUrlSoExpiredUrlsDoNotMatterAcrossPulls() throws Exception {
    pull();
    registry.expireIssuedUrls();
    Path other = dest.resolve("second");
    PullResult r = client.pull(registry.registryUrl(), "library/tiny:latest", other);
    assertEquals(0, r.cacheHits());
    assertEquals(4, registry.stats().requests(RequestKind.BLOB_GET) - 4);
  }

  @Test
  void unknownModelFailsLikeOllama() {
    PullException e = assertThrows(PullException.class,
        () -> client.pull(registry.registryUrl(), "library/nope:latest", dest));
    assertEquals("pull model manifest: file does not exist", e.getMessage());
  }

  @Test
  void modelNamesDefaultLikeOllamaAndKeepTheCaseTheUserTyped() {
    assertEquals(new ModelName("library", "tiny", "latest"), ModelName.parse("tiny"));
    assertEquals(new ModelName("library", "qwen2.5", "7b"), ModelName.parse("qwen2.5:7b"));
    // types/model/name.go never lower-cases: a Hugging Face repository keeps its capitals on the way to the registry
    assertEquals(new ModelName("Me", "M", "X"), ModelName.parse("Me/M:X"));
    assertThrows(IllegalArgumentException.class, () -> ModelName.parse("host:1/a/b:c"));
  }

  @Test
  void goRedirectRulesKeepCredentialsOnTheSameHostOnly() {
    URI registryUri = URI.create("http://127.0.0.1:5000/v2/x");
    assertTrue(Redirects.keepsSensitiveHeaders(registryUri, URI.create("http://127.0.0.1:6000/y")));
    assertFalse(Redirects.keepsSensitiveHeaders(registryUri, URI.create("http://127.0.0.2:5000/y")));
    assertTrue(Redirects.keepsSensitiveHeaders(URI.create("https://ollama.com/a"), URI.create("https://cdn.ollama.com/b")));
  }
}
