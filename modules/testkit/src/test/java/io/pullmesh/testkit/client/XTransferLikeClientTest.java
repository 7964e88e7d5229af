package io.pullmesh.testkit.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.pullmesh.core.Digest;
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
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The x/transfer-like client against the fake registry, directly (no mirror in between). */
class XTransferLikeClientTest {
  static final String TENSOR = XTransferLikeClient.MEDIA_TYPE_TENSOR;

  @TempDir
  static Path fixtures;
  static FakeModel tensors;
  static FakeModel big;
  static FakeModel gguf;
  static FakeRegistry registry;
  static XTransferLikeClient client;

  @TempDir
  Path dest;

  @BeforeAll
  static void start() {
    tensors = ModelFixture.of("library/tensors", "latest")
        .layer(TENSOR, 3L << 20)
        .layer(TENSOR, 700 * 1024)
        .layer(TENSOR, 1234)
        .layer(MediaTypes.TEMPLATE, 311)
        .seed(7)
        .create(fixtures);
    // Exactly the resume threshold: the smallest blob x/transfer resumes (size >= 64 MiB).
    big = ModelFixture.of("library/big", "latest")
        .layer(TENSOR, XTransferOptions.RESUME_THRESHOLD)
        .layer(TENSOR, 4096)
        .seed(9)
        .create(fixtures);
    gguf = ModelFixture.tiny().seed(3).create(fixtures);
    registry = FakeRegistry.start(tensors, big, gguf);
    client = new XTransferLikeClient(XTransferOptions.forTests().build());
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
    registry.resetCounters();
  }

  private XTransferResult pull(FakeModel model) throws XTransferException {
    return client.pull(registry.registryUrl(), model.reference(), dest);
  }

  private Path blobPath(Digest d) {
    return dest.resolve("blobs").resolve("sha256-" + d.hex());
  }

  private void assertSameBytes(FakeBlob blob) throws IOException {
    assertEquals(-1, Files.mismatch(blob.file(), blobPath(blob.digest())), "blob " + blob.digest().shortHex());
  }

  private static XTransferBlobResult resultFor(List<XTransferBlobResult> results, Digest d) {
    return results.stream().filter(r -> r.digest().equals(d)).findFirst().orElseThrow();
  }

  private List<Path> tmpFiles() throws IOException {
    if (!Files.isDirectory(dest.resolve("blobs"))) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dest.resolve("blobs"))) {
      return s.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList();
    }
  }

  @Test
  void pullsATensorModelByteForByteWithOneResolveAndOneWholeBlobGetPerBlob() throws Exception {
    XTransferResult result = pull(tensors);

    for (FakeBlob b : tensors.blobs()) {
      assertSameBytes(b);
    }
    Path manifest = dest.resolve("manifests").resolve("127.0.0.1:" + registry.registryPort())
        .resolve("library").resolve("tensors").resolve("latest");
    assertEquals(manifest, result.manifestPath());
    assertArrayEquals(tensors.manifestBytes(), Files.readAllBytes(manifest));
    assertEquals(tensors.manifestDigest(), result.manifestDigest());
    assertEquals(tensors.blobs().stream().map(FakeBlob::digest).toList(),
        result.blobs().stream().map(XTransferBlobResult::digest).toList(), "layers in order, then the config");
    assertEquals(tensors.blobs().size(), result.attempts(), "one attempt per blob");

    TrafficStats stats = registry.stats();
    int blobs = tensors.blobs().size();
    assertEquals(1, stats.requests(RequestKind.MANIFEST));
    assertEquals(0, stats.requests(RequestKind.BLOB_HEAD), "x/transfer never HEADs");
    assertEquals(blobs, stats.requests(RequestKind.BLOB_GET), "one resolve GET per blob");
    assertEquals(blobs, stats.requests(RequestKind.CDN_GET_UNRANGED), "one whole-blob GET per blob");
    assertEquals(0, stats.requests(RequestKind.CDN_GET_RANGED));
    for (RequestRecord r : stats.recentRequests()) {
      if (r.server().equals("cdn")) {
        assertFalse(r.authorization(), "no credentials to another host: " + r);
        assertEquals(200, r.status(), r.toString());
      }
    }
    assertEquals(List.of(), tmpFiles(), "no .tmp left");
  }

  @Test
  void aResolveAnsweredWithACrossHost307CostsAboutOneTimesTheModel() throws Exception {
    XTransferResult result = pull(tensors);

    double ratio = (double) result.bytesReceived() / tensors.totalBytes();
    assertTrue(ratio >= 1.0 && ratio < 1.01, "bytes received / model = " + ratio);
    for (XTransferBlobResult b : result.blobs()) {
      assertTrue(b.resolveBytesReceived() > 0 && b.resolveBytesReceived() < 1024,
          "the resolve step read only the redirect page: " + b);
      assertEquals(b.size() + b.resolveBytesReceived(), b.bytesReceived(), b.toString());
      assertTrue(b.finalUrl().startsWith(registry.cdnUrl()), b.finalUrl());
    }
    assertEquals(tensors.totalBytes(), registry.stats().cdnBlobBytes());
    assertEquals(0, registry.stats().registryBlobBytes());
  }

  @Test
  void aRegistryAnsweringTheResolveGetWith200IsDrainedThenFetchedAgain() throws Exception {
    registry.setDirectMode(true); // a registry (or a mirror) serving blobs itself: 200 to the resolve GET

    XTransferResult result = pull(tensors);

    for (FakeBlob b : tensors.blobs()) {
      assertSameBytes(b);
    }
    double ratio = (double) result.bytesReceived() / tensors.totalBytes();
    assertTrue(ratio > 1.99 && ratio < 2.01, "bytes received / model = " + ratio);
    for (XTransferBlobResult b : result.blobs()) {
      assertEquals(b.size(), b.resolveBytesReceived(), "the whole blob was read and thrown away: " + b);
      assertEquals(2 * b.size(), b.bytesReceived(), b.toString());
      assertEquals(registry.blobUrl("library/tensors", b.digest()), b.finalUrl());
    }
    assertEquals(2L * tensors.blobs().size(), registry.stats().requests(RequestKind.BLOB_GET));
    assertEquals(2 * tensors.totalBytes(), registry.stats().registryBlobBytes());
    assertEquals(0, registry.stats().cdnGets());
  }

  @Test
  void aPartialTmpOfABlobAtTheResumeThresholdIsResumedWithRangeBytesN() throws Exception {
    FakeBlob weights = big.largestLayer();
    long n = (40L << 20) + 123;
    Files.createDirectories(dest.resolve("blobs"));
    try (InputStream in = Files.newInputStream(weights.file());
        OutputStream out = Files.newOutputStream(dest.resolve("blobs").resolve("sha256-" + weights.digest().hex()
            + ".tmp"))) {
      out.write(in.readNBytes((int) n));
    }

    XTransferResult result = pull(big);

    for (FakeBlob b : big.blobs()) {
      assertSameBytes(b);
    }
    XTransferBlobResult w = resultFor(result.blobs(), weights.digest());
    assertEquals(n, w.resumedFrom());
    assertEquals(weights.size() - n, w.bytesReceived() - w.resolveBytesReceived(), "only the missing tail crossed");
    assertEquals(weights.size() - n, registry.stats().cdnBlobBytes(weights.digest()));
    List<RequestRecord> cdn = registry.stats().recentRequests().stream()
        .filter(r -> r.server().equals("cdn") && r.path().contains(weights.digest().hex())).toList();
    assertEquals(1, cdn.size(), cdn.toString());
    assertEquals("bytes=" + n + "-", cdn.get(0).range());
    assertEquals(206, cdn.get(0).status());
    List<RequestRecord> resolves = registry.stats().recentRequests().stream()
        .filter(r -> r.kind() == RequestKind.BLOB_GET).toList();
    assertTrue(resolves.stream().allMatch(r -> r.range() == null), "the resolve GET never carries Range: " + resolves);
    assertEquals(List.of(), tmpFiles());
  }

  @Test
  void aPartialTmpOfABlobBelowTheThresholdIsThrownAwayAndFetchedFromByteZero() throws Exception {
    FakeBlob weights = tensors.largestLayer(); // 3 MiB < 64 MiB
    Files.createDirectories(dest.resolve("blobs"));
    Files.write(dest.resolve("blobs").resolve("sha256-" + weights.digest().hex() + ".tmp"),
        Arrays.copyOf(Files.readAllBytes(weights.file()), 1 << 20));

    XTransferResult result = pull(tensors);

    assertSameBytes(weights);
    XTransferBlobResult w = resultFor(result.blobs(), weights.digest());
    assertEquals(0, w.resumedFrom());
    assertEquals(weights.size(), w.bytesReceived() - w.resolveBytesReceived());
    assertTrue(registry.stats().recentRequests().stream().allMatch(r -> r.range() == null),
        "no Range anywhere");
  }

  @Test
  void aCorruptByteFailsEveryTryWithMaxRetriesExceededDigestMismatch() throws Exception {
    FakeBlob weights = tensors.largestLayer();
    registry.cdnFaults().add(FaultRule.always(Fault.corrupt(weights.size() / 2)).forDigest(weights.digest()));

    XTransferException e = assertThrows(XTransferException.class, () -> pull(tensors));

    assertEquals("max retries exceeded: digest mismatch", e.getMessage());
    assertFalse(e.panicked());
    XTransferBlobResult w = resultFor(e.blobs(), weights.digest());
    assertEquals(6, w.attempts(), "maxRetries = 6");
    assertEquals(6, registry.stats().recentRequests().stream()
        .filter(r -> r.server().equals("cdn") && r.path().contains(weights.digest().hex())).count());
    assertEquals(6 * weights.size(), w.bytesReceived() - w.resolveBytesReceived(), "the whole blob, six times");
    assertFalse(Files.exists(blobPath(weights.digest())));
    assertEquals(List.of(), tmpFiles(), "a mismatching .tmp is deleted");
    assertFalse(Files.exists(dest.resolve("manifests")), "no manifest after a failed pull");
  }

  @Test
  void aRedirectToTheSameAddressOnAnotherPortCountsAsAnotherHostSoTheTokenStaysBehind() throws Exception {
    // x/transfer compares url.Host (host:port): 127.0.0.1:<cdn port> is not 127.0.0.1:<registry port>.
    try (FakeRegistry sameIp = FakeRegistry.builder().cdnHost("127.0.0.1").requireAuth(true).start()) {
      sameIp.addModel(tensors);

      XTransferResult result = client.pull(sameIp.registryUrl(), tensors.reference(), dest);

      for (FakeBlob b : tensors.blobs()) {
        assertSameBytes(b);
      }
      assertEquals(1, sameIp.tokenRequests(), "the manifest's token is the download's token");
      List<RequestRecord> log = sameIp.stats().recentRequests();
      assertTrue(log.stream().filter(r -> r.kind() == RequestKind.BLOB_GET).allMatch(RequestRecord::authorization),
          "resolve GETs carry the token: " + log);
      assertTrue(log.stream().filter(r -> r.server().equals("cdn")).noneMatch(RequestRecord::authorization),
          "the CDN (which refuses Authorization) gets none: " + log);
      assertEquals(tensors.blobs().size(), sameIp.stats().requests(RequestKind.CDN_GET_UNRANGED));
      assertTrue(result.blobs().get(0).finalUrl().startsWith(sameIp.cdnUrl()));
    }
  }

  @Test
  void a303ToTheCdnIsNotARedirectToXTransferButStatus303() {
    registry.setRedirectStatus(303);

    XTransferException e = assertThrows(XTransferException.class, () -> pull(tensors));

    assertEquals("max retries exceeded: status 303", e.getMessage());
    assertEquals(0, registry.stats().cdnGets());
  }

  @Test
  void aBlobOnDiskWithTheDeclaredSizeIsSkippedWithoutBeingHashed() throws Exception {
    FakeBlob template = tensors.layers().get(3);
    Files.createDirectories(dest.resolve("blobs"));
    Files.write(blobPath(template.digest()), new byte[(int) template.size()]); // wrong bytes, right size

    XTransferResult result = pull(tensors);

    assertTrue(resultFor(result.blobs(), template.digest()).alreadyPresent());
    assertEquals(0, resultFor(result.blobs(), template.digest()).bytesReceived());
    assertEquals(tensors.blobs().size() - 1, registry.stats().requests(RequestKind.BLOB_GET));
    assertArrayEquals(new byte[(int) template.size()], Files.readAllBytes(blobPath(template.digest())));
  }

  @Test
  void aStalledBodyIsRetriedWithoutUsingATryWhenStalledReadsAreAborted() throws Exception {
    FakeBlob weights = tensors.largestLayer();
    registry.cdnFaults().add(FaultRule.once(Fault.stallAfter(100_000)).forDigest(weights.digest()));
    try (XTransferLikeClient aborting = new XTransferLikeClient(client.options().toBuilder()
        .stallTimeout(Duration.ofMillis(300)).abortStalledReads(true).build())) {

      XTransferResult result = aborting.pull(registry.registryUrl(), tensors.reference(), dest);

      assertSameBytes(weights);
      XTransferBlobResult w = resultFor(result.blobs(), weights.digest());
      assertEquals(1, w.stalls());
      assertEquals(2, w.attempts());
      assertEquals("download stalled", w.lastError());
    }
  }

  @Test
  void aModelWithoutTensorLayersIsRefusedBecauseOllamaPullsItWithServerDownload() {
    XTransferException e = assertThrows(XTransferException.class, () -> pull(gguf));
    assertTrue(e.getMessage().startsWith("no application/vnd.ollama.image.tensor layer"), e.getMessage());
    assertEquals(0, registry.stats().requests(RequestKind.BLOB_GET));
  }

  @Test
  void aMissingManifestFailsWithPullModelManifestFileDoesNotExist() {
    XTransferException e = assertThrows(XTransferException.class,
        () -> client.pull(registry.registryUrl(), "library/nope:latest", dest));
    assertEquals("pull model manifest: file does not exist", e.getMessage());
  }

  @Test
  void blobRequestsSayOllamaTransferAndTheManifestRequestSaysOllama() throws Exception {
    FakeBlob blob = tensors.layers().get(2);
    byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.MANIFEST_V2 + "\",\"config\":{},"
        + "\"layers\":[{\"mediaType\":\"" + TENSOR + "\",\"digest\":\"" + blob.digest() + "\",\"size\":"
        + blob.size() + "}]}").getBytes(java.nio.charset.StandardCharsets.UTF_8);
    byte[] bytes = Files.readAllBytes(blob.file());
    List<Map<String, String>> seen = new CopyOnWriteArrayList<>();
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/", ex -> {
      seen.add(Map.of(
          "path", ex.getRequestURI().getPath(),
          "ua", String.valueOf(ex.getRequestHeaders().getFirst("User-Agent")),
          "accept", String.valueOf(ex.getRequestHeaders().getFirst("Accept")),
          "encoding", String.valueOf(ex.getRequestHeaders().getFirst("Accept-Encoding"))));
      byte[] body = ex.getRequestURI().getPath().contains("/manifests/") ? manifest : bytes;
      ex.sendResponseHeaders(200, body.length);
      try (OutputStream out = ex.getResponseBody()) {
        out.write(body);
      }
    });
    server.start();
    try {
      XTransferResult r = client.pull("http://127.0.0.1:" + server.getAddress().getPort(), "library/ua", dest);
      assertSameBytes(blob);
      assertNull(r.blobs().get(0).lastError());
    } finally {
      server.stop(0);
    }
    assertEquals(3, seen.size(), "manifest, resolve (drained), blob GET: " + seen);
    Map<String, String> m = seen.get(0);
    assertEquals("/v2/library/ua/manifests/latest", m.get("path"));
    assertTrue(m.get("ua").matches("ollama/\\S+ \\(\\S+ \\S+\\) Go/\\S+"), m.get("ua"));
    assertEquals(XTransferLikeClient.ACCEPT_MANIFEST, m.get("accept"));
    for (Map<String, String> b : seen.subList(1, 3)) {
      assertEquals("/v2/library/ua/blobs/" + blob.digest(), b.get("path"));
      assertEquals("ollama-transfer/1.0", b.get("ua"));
      assertEquals("gzip", b.get("encoding"), "Go's transport asks for gzip on a GET without Range");
    }
  }
}
