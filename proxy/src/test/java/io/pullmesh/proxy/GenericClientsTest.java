package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.metrics.MeterNames;
import io.pullmesh.testkit.Waits;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import io.pullmesh.testkit.registry.RequestRecord;
import io.pullmesh.testkit.tools.ExternalTool;
import io.pullmesh.testkit.tools.ProcessResult;
import io.pullmesh.testkit.tools.Tools;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Generic HTTP and registry clients pulling through an in-process pullmesh: real curl, aria2c and skopeo as
 * subprocesses, and the JDK's own {@link HttpClient}. Each download is done twice, cold (the request that
 * starts the upstream fetch, answered in flight: {@code X-Pullmesh-Cache: miss}) and warm (from the committed
 * file: {@code hit}, upstream carries nothing more), and every byte is compared with the fixture's file. Each
 * test owns a layer nobody asked for before, so its first request really is cold.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GenericClientsTest {
  private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(60);
  private static final Duration COMMIT_DEADLINE = Duration.ofSeconds(20);
  private static final String REPO = "library/clients";
  private static final String DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip";
  private static final String FAKE_UPSTREAM = "testkit fake registry.ollama.ai (307 to a CDN)";
  private static final CompatibilityRecorder.Mode MIRROR = CompatibilityRecorder.Mode.MIRROR;

  @RegisterExtension final CompatibilityRecorder compat = new CompatibilityRecorder();

  Path dir;
  FakeModel tiny;
  FakeModel clients;
  /** A model whose layers carry Docker's layer media type, which skopeo accepts. */
  FakeModel dockerTyped;
  FakeBlob curlWhole;
  FakeBlob curlRanges;
  FakeBlob curlHead;
  FakeBlob aria2;
  FakeBlob javaWhole;
  FakeBlob javaRange;
  Harness h;

  /** This test's own scratch directory (the class shares one proxy and one temp tree). */
  Path out;

  @BeforeAll
  void start() throws IOException {
    dir = Files.createTempDirectory("pullmesh-clients");
    tiny = ModelFixture.tiny().seed(5).create(dir.resolve("tiny"));
    clients = ModelFixture.of(REPO, "latest")
        .layer(MediaTypes.MODEL, (2L << 20) + 13)      // curl whole
        .layer(MediaTypes.MODEL, (3L << 20) + 7)       // curl ranges
        .layer(MediaTypes.MODEL, (1L << 20) + 5)       // curl -I
        .layer(MediaTypes.MODEL, (9L << 20) + 12_345)  // aria2c
        .layer(MediaTypes.MODEL, (2L << 20) + 1)       // java whole
        .layer(MediaTypes.MODEL, (2L << 20) + 3)       // java range
        .seed(9)
        .create(dir.resolve("clients"));
    dockerTyped = ModelFixture.of("library/dockertyped", "latest")
        .layer(DOCKER_LAYER, 100_003)
        .seed(11)
        .create(dir.resolve("dockertyped"));
    List<FakeBlob> l = clients.layers();
    curlWhole = l.get(0);
    curlRanges = l.get(1);
    curlHead = l.get(2);
    aria2 = l.get(3);
    javaWhole = l.get(4);
    javaRange = l.get(5);
    h = Harness.start(dir, Harness.testFetchConfig(16), FakeRegistry.start(tiny, clients, dockerTyped));
    // slow enough per upstream connection that a cold response overlaps the download
    h.upstream.setCdnBytesPerSecond(4L << 20);
  }

  @BeforeEach
  void scratch(TestInfo test) throws IOException {
    out = Files.createTempDirectory(dir, test.getTestMethod().orElseThrow().getName());
  }

  @AfterAll
  void stop() throws IOException {
    if (h != null) {
      h.close();
    }
    deleteTree(dir);
  }

  // ------------------------------------------------------------------ helpers

  private String url(FakeBlob b) {
    return h.url() + "/v2/" + REPO + "/blobs/" + b.digest();
  }

  private static byte[] bytes(FakeBlob b) throws IOException {
    return Files.readAllBytes(b.file());
  }

  private static byte[] slice(byte[] all, long first, long last) {
    return Arrays.copyOfRange(all, (int) first, (int) last + 1);
  }

  /** Waits until the proxy has committed {@code b} (a cold response can end before the commit). */
  private void awaitCommitted(FakeBlob b) throws InterruptedException {
    Waits.awaitTrue(() -> h.proxy.store().lookup(b.digest()).isPresent(), COMMIT_DEADLINE,
        () -> b.digest() + " committed; upstream saw: " + upstreamLog());
  }

  /** Blob body bytes upstream (registry and CDN) sent for {@code b}. */
  private long upstreamBytes(FakeBlob b) {
    return h.upstream.stats().cdnBlobBytes(b.digest()) + h.upstream.stats().registryBlobBytes(b.digest());
  }

  private String upstreamLog() {
    return h.upstream.stats().recentRequests().stream().map(RequestRecord::toString).collect(Collectors.joining("\n  ", "\n  ", ""));
  }

  /** The value of a header in a curl {@code -D -} / {@code -I} dump (the last one when there are several). */
  private static String header(String dump, String name) {
    String found = null;
    for (String line : dump.split("\r?\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).strip().toLowerCase(Locale.ROOT).equals(name.toLowerCase(Locale.ROOT))) {
        found = line.substring(colon + 1).strip();
      }
    }
    return found;
  }

  private static List<String> statusLines(String dump) {
    List<String> s = new ArrayList<>();
    for (String line : dump.split("\r?\n")) {
      if (line.startsWith("HTTP/")) {
        s.add(line.strip());
      }
    }
    return s;
  }

  // ------------------------------------------------------------------ curl

  private ProcessResult curl(String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Tools.requireTool(ExternalTool.CURL).toString());
    cmd.addAll(Arrays.asList(args));
    return Tools.run(TOOL_TIMEOUT, cmd);
  }

  @Test
  void curlDownloadsAWholeBlobColdThenWarm() throws Exception {
    Tools.requireTool(ExternalTool.CURL);
    byte[] want = bytes(curlWhole);

    Path cold = out.resolve("cold");
    ProcessResult r = curl("-sS", "-f", "-L", "-D", "-", "-o", cold.toString(), url(curlWhole));
    assertTrue(r.succeeded(), r.describe());
    // -L follows only 3xx: the Location on our 200 (for Ollama) must not send curl anywhere else
    assertEquals(1, statusLines(r.stdout()).size(), r.stdout());
    assertTrue(statusLines(r.stdout()).get(0).contains(" 200"), r.stdout());
    assertEquals("miss", header(r.stdout(), "X-Pullmesh-Cache"), r.stdout());
    assertEquals(Long.toString(curlWhole.size()), header(r.stdout(), "Content-Length"), r.stdout());
    assertArrayEquals(want, Files.readAllBytes(cold));

    awaitCommitted(curlWhole);
    long upstream = upstreamBytes(curlWhole);
    Path warm = out.resolve("warm");
    r = curl("-sS", "-f", "-L", "-D", "-", "-o", warm.toString(), url(curlWhole));
    assertTrue(r.succeeded(), r.describe());
    assertEquals("hit", header(r.stdout(), "X-Pullmesh-Cache"), r.stdout());
    assertArrayEquals(want, Files.readAllBytes(warm));
    assertEquals(upstream, upstreamBytes(curlWhole), "a warm GET fetches nothing upstream");
    compat.row("curl", CompatibilityRecorder.curlVersion(Tools.requireTool(ExternalTool.CURL)), MIRROR, FAKE_UPSTREAM,
        "whole blob with -L, cold (in flight) then warm; bytes compared; the Location on the 200 is not followed");
  }

  /** {@code curl -r}: the first request of the blob is ranged; then more ranges, cold and warm. */
  @Test
  void curlRangesGetExactlyTheirBytesColdThenWarm() throws Exception {
    Tools.requireTool(ExternalTool.CURL);
    byte[] all = bytes(curlRanges);
    long size = curlRanges.size();
    long[][] ranges = {
        {1_000_000, 1_070_000},          // first request: starts the download
        {0, 0},
        {size - 1, size - 1},
        {65_535, 65_536 + 1_048_576},    // across piece boundaries
        {size - 200_000, size - 1},      // the tail, held back until verified when in flight
    };
    for (String state : List.of("cold", "warm")) {
      if (state.equals("warm")) {
        awaitCommitted(curlRanges);
      }
      for (int i = 0; i < ranges.length; i++) {
        long a = ranges[i][0];
        long b = ranges[i][1];
        Path file = out.resolve(state + "-" + i);
        ProcessResult r = curl("-sS", "-f", "-D", "-", "-r", a + "-" + b, "-o", file.toString(), url(curlRanges));
        assertTrue(r.succeeded(), r.describe());
        assertTrue(statusLines(r.stdout()).get(0).contains(" 206"), r.stdout());
        assertEquals("bytes " + a + "-" + b + "/" + size, header(r.stdout(), "Content-Range"), r.stdout());
        if (state.equals("cold") && i == 0) {
          assertEquals("miss", header(r.stdout(), "X-Pullmesh-Cache"), r.stdout());
        }
        if (state.equals("warm")) {
          assertEquals("hit", header(r.stdout(), "X-Pullmesh-Cache"), r.stdout());
        }
        assertArrayEquals(slice(all, a, b), Files.readAllBytes(file), state + " range " + a + "-" + b);
      }
      // open-ended and suffix forms
      Path open = out.resolve(state + "-open");
      ProcessResult r = curl("-sS", "-f", "-r", "3000000-", "-o", open.toString(), url(curlRanges));
      assertTrue(r.succeeded(), r.describe());
      assertArrayEquals(slice(all, 3_000_000, size - 1), Files.readAllBytes(open), state + " range 3000000-");
      Path suffix = out.resolve(state + "-suffix");
      r = curl("-sS", "-f", "-r", "-500", "-o", suffix.toString(), url(curlRanges));
      assertTrue(r.succeeded(), r.describe());
      assertArrayEquals(slice(all, size - 500, size - 1), Files.readAllBytes(suffix), state + " range -500");
    }
    compat.row("curl", CompatibilityRecorder.curlVersion(Tools.requireTool(ExternalTool.CURL)), MIRROR, FAKE_UPSTREAM,
        "byte ranges (a-b, first and last byte, across pieces, the tail, a-, -n), cold then warm; 206 and Content-Range; bytes compared");
  }

  @Test
  void curlHeadShowsTheSizeColdThenWarm() throws Exception {
    Tools.requireTool(ExternalTool.CURL);
    // cold: nobody asked for this blob yet; the size comes from upstream
    ProcessResult r = curl("-sS", "-f", "-I", url(curlHead));
    assertTrue(r.succeeded(), r.describe());
    assertTrue(statusLines(r.stdout()).get(0).contains(" 200"), r.stdout());
    assertEquals(Long.toString(curlHead.size()), header(r.stdout(), "Content-Length"), r.stdout());
    assertEquals(curlHead.digest().toString(), header(r.stdout(), "Docker-Content-Digest"), r.stdout());

    Path file = out.resolve("blob");
    r = curl("-sS", "-f", "-o", file.toString(), url(curlHead));
    assertTrue(r.succeeded(), r.describe());
    assertArrayEquals(bytes(curlHead), Files.readAllBytes(file));
    awaitCommitted(curlHead);

    r = curl("-sS", "-f", "-I", url(curlHead));
    assertTrue(r.succeeded(), r.describe());
    assertEquals(Long.toString(curlHead.size()), header(r.stdout(), "Content-Length"), r.stdout());
  }

  // ------------------------------------------------------------------ aria2c

  @Test
  void aria2cSplitsAMultiMebibyteBlobColdThenWarm() throws Exception {
    Path aria2c = Tools.requireTool(ExternalTool.ARIA2C);
    byte[] want = bytes(aria2);
    for (String state : List.of("cold", "warm")) {
      if (state.equals("warm")) {
        awaitCommitted(aria2);
      }
      long upstream = upstreamBytes(aria2);
      double misses = blobRequests("miss");
      double inflight = blobRequests("inflight");
      double hits = blobRequests("hit");
      Path d = out.resolve(state);
      Files.createDirectories(d);
      ProcessResult r = Tools.run(TOOL_TIMEOUT, aria2c.toString(), "-x16", "-s16", "-k1M",
          "--allow-overwrite=true", "--auto-file-renaming=false", "--check-integrity=true",
          "--checksum=sha-256=" + aria2.digest().hex(), "--console-log-level=warn", "--summary-interval=0",
          "--no-conf=true", "-d", d.toString(), "-o", "blob", url(aria2));
      assertTrue(r.succeeded(), state + ": " + r.describe() + "\nupstream saw: " + upstreamLog());
      assertArrayEquals(want, Files.readAllBytes(d.resolve("blob")), state);
      if (state.equals("cold")) {
        // one request started the download; aria2c's other connections joined it or, once it was done, hit
        assertEquals(misses + 1, blobRequests("miss"), "misses");
        assertTrue(blobRequests("miss") + blobRequests("inflight") + blobRequests("hit") - misses - inflight - hits >= 2,
            "aria2c split the download over several requests");
      } else {
        assertEquals(upstream, upstreamBytes(aria2), "a warm download fetches nothing upstream");
        assertEquals(misses, blobRequests("miss"), "misses");
        assertEquals(inflight, blobRequests("inflight"), "in-flight joins");
        assertTrue(blobRequests("hit") >= hits + 2, "aria2c split the warm download over several requests");
      }
    }
    compat.row("aria2c -x16 -s16", CompatibilityRecorder.aria2cVersion(aria2c), MIRROR, FAKE_UPSTREAM,
        "a 9 MiB blob in 1 MiB splits, cold (joining the download in flight) then warm; SHA-256 checked");
  }

  // ------------------------------------------------------------------ skopeo

  private ProcessResult skopeo(String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Tools.requireTool(ExternalTool.SKOPEO).toString());
    cmd.addAll(Arrays.asList(args));
    return Tools.run(TOOL_TIMEOUT, cmd);
  }

  private String dockerRef(FakeModel m) {
    return "docker://127.0.0.1:" + h.proxy.port() + "/" + m.reference();
  }

  @Test
  void skopeoInspectRawReturnsTheManifestByteForByte() throws Exception {
    Tools.requireTool(ExternalTool.SKOPEO);
    ProcessResult r = skopeo("inspect", "--raw", "--tls-verify=false", dockerRef(tiny));
    assertTrue(r.succeeded(), r.describe());
    assertEquals(new String(tiny.manifestBytes(), StandardCharsets.UTF_8), r.stdout());
    compat.row("skopeo inspect --raw", CompatibilityRecorder.skopeoVersion(Tools.requireTool(ExternalTool.SKOPEO)), MIRROR, FAKE_UPSTREAM,
        "manifest byte-identical");
  }

  /**
   * {@code skopeo inspect --config --raw} on an Ollama manifest. skopeo (containers/image) parses a Docker
   * schema 2 manifest before it fetches the config and refuses any layer media type outside Docker's own list
   * ({@code unsupported docker v2s2 media type: "application/vnd.ollama.image.model"}); it does so with the
   * bytes registry.ollama.ai itself serves, so no mirror could change it short of rewriting the manifest, which
   * would change its digest. With --debug it asks for {@code GET /v2/} (https, then http), then
   * {@code GET /v2/library/tiny/manifests/latest}, gets 200 with Content-Type
   * {@code application/vnd.docker.distribution.manifest.v2+json}, and stops without requesting any blob. This
   * test holds either way: a skopeo that accepts the manifest must print exactly the config bytes; one that
   * refuses it must do so for that reason alone, after a successful manifest GET and before any blob request.
   * The config fetch itself is covered by {@link #skopeoInspectConfigRawFetchesTheConfigBlobThroughTheMirror}.
   */
  @Test
  void skopeoInspectConfigOfAnOllamaManifestFailsOnlyInSkopeosOwnMediaTypeCheck() throws Exception {
    Tools.requireTool(ExternalTool.SKOPEO);
    double blobRequests = proxyRequests("blob");
    double manifestOk = proxyRequests("manifest", 200);
    ProcessResult r = skopeo("--debug", "inspect", "--config", "--raw", "--tls-verify=false", dockerRef(tiny));
    String version = CompatibilityRecorder.skopeoVersion(Tools.requireTool(ExternalTool.SKOPEO));
    if (r.succeeded()) {
      assertEquals(new String(bytes(tiny.config()), StandardCharsets.UTF_8), r.stdout());
      compat.row("skopeo inspect --config (Ollama manifest)", version, MIRROR, FAKE_UPSTREAM, "the config blob, byte-identical");
      return;
    }
    assertTrue(r.stderr().contains("unsupported docker v2s2 media type: \\\"" + MediaTypes.MODEL), r.describe());
    assertTrue(r.stderr().contains("Content-Type from manifest GET is \\\"" + MediaTypes.MANIFEST_V2), r.describe());
    Waits.awaitTrue(() -> proxyRequests("manifest", 200) > manifestOk, "the manifest GET reached the proxy and got 200");
    assertEquals(blobRequests, proxyRequests("blob"), "skopeo gave up before asking for any blob");
    compat.row("skopeo inspect --config (Ollama manifest)", version, MIRROR, FAKE_UPSTREAM,
        "the manifest GET succeeds; skopeo then refuses the layer media type before asking for any blob",
        "refused by skopeo itself: \"unsupported docker v2s2 media type\" (Ollama's layer types)");
  }

  /**
   * The same command on a model skopeo accepts (its layers typed as Docker layers): skopeo fetches the config
   * blob through the mirror, cold, and prints it byte for byte.
   */
  @Test
  void skopeoInspectConfigRawFetchesTheConfigBlobThroughTheMirror() throws Exception {
    Tools.requireTool(ExternalTool.SKOPEO);
    assertTrue(h.proxy.store().lookup(dockerTyped.config().digest()).isEmpty(), "the config is not cached yet");
    ProcessResult r = skopeo("inspect", "--config", "--raw", "--tls-verify=false", dockerRef(dockerTyped));
    assertTrue(r.succeeded(), r.describe());
    assertEquals(new String(bytes(dockerTyped.config()), StandardCharsets.UTF_8), r.stdout());
    awaitCommitted(dockerTyped.config());
    // once, plus the 1-byte "Range: bytes=0-0" GET the fetcher locates a blob with
    long up = upstreamBytes(dockerTyped.config());
    assertTrue(up >= dockerTyped.config().size() && up <= dockerTyped.config().size() + 1,
        "upstream sent " + up + " bytes for a config of " + dockerTyped.config().size());
    compat.row("skopeo inspect --config (Docker-typed layers)", CompatibilityRecorder.skopeoVersion(Tools.requireTool(ExternalTool.SKOPEO)),
        MIRROR, FAKE_UPSTREAM, "the config blob fetched cold through the mirror, byte-identical, once upstream");
  }

  /** Blob GETs the proxy counted with this result: hit, miss, inflight. */
  private double blobRequests(String result) {
    return h.proxy.meterRegistry().find(MeterNames.BLOB_REQUESTS).tag("result", result).counters().stream()
        .mapToDouble(c -> c.count()).sum();
  }

  /** Requests the proxy answered on a route ({@code blob}, {@code manifest}...), with one of the statuses if given. */
  private double proxyRequests(String route, int... statuses) {
    return h.proxy.meterRegistry().find(MeterNames.HTTP_REQUESTS).tag("route", route).timers().stream()
        .filter(t -> statuses.length == 0 || Arrays.stream(statuses).anyMatch(st -> Integer.toString(st).equals(t.getId().getTag("status"))))
        .mapToDouble(t -> t.count()).sum();
  }

  // ------------------------------------------------------------------ java.net.http

  /**
   * Default settings: HTTP/2 preferred, so the first request on a connection carries an h2c upgrade (the
   * proxy's Vert.x server accepts it, and the bodies come back over HTTP/2); here with Redirect.NORMAL.
   */
  private static HttpClient javaClient() {
    return HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL).connectTimeout(Duration.ofSeconds(10)).build();
  }

  private static HttpRequest.Builder request(String url) {
    return HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30));
  }

  @Test
  void javaHttpClientGetsAWholeBlobColdThenWarm() throws Exception {
    HttpClient client = javaClient();
    byte[] want = bytes(javaWhole);
    HttpResponse<byte[]> cold = client.send(request(url(javaWhole)).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, cold.statusCode(), cold.toString());
    assertEquals("miss", cold.headers().firstValue("X-Pullmesh-Cache").orElse(null));
    assertArrayEquals(want, cold.body());

    awaitCommitted(javaWhole);
    HttpResponse<byte[]> warm = client.send(request(url(javaWhole)).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, warm.statusCode(), warm.toString());
    assertEquals("hit", warm.headers().firstValue("X-Pullmesh-Cache").orElse(null));
    assertArrayEquals(want, warm.body());
    compat.row("Java java.net.http.HttpClient", System.getProperty("java.version"), MIRROR, FAKE_UPSTREAM,
        "whole blob (h2c upgrade, Redirect.NORMAL), cold then warm; bytes compared");
  }

  @Test
  void javaHttpClientGetsARangeColdThenWarm() throws Exception {
    HttpClient client = javaClient();
    byte[] all = bytes(javaRange);
    long a = 1_234_567;
    long b = 1_900_000;
    for (String state : List.of("cold", "warm")) {
      if (state.equals("warm")) {
        awaitCommitted(javaRange);
      }
      HttpResponse<byte[]> r = client.send(request(url(javaRange)).header("Range", "bytes=" + a + "-" + b).GET().build(),
          HttpResponse.BodyHandlers.ofByteArray());
      assertEquals(206, r.statusCode(), state + " " + r);
      assertEquals("bytes " + a + "-" + b + "/" + javaRange.size(), r.headers().firstValue("Content-Range").orElse(null), state);
      assertEquals(state.equals("cold") ? "miss" : "hit", r.headers().firstValue("X-Pullmesh-Cache").orElse(null), state);
      assertArrayEquals(slice(all, a, b), r.body(), state);
    }
  }

  // ------------------------------------------------------------------

  private static void deleteTree(Path root) throws IOException {
    if (root == null || !Files.exists(root)) {
      return;
    }
    try (var s = Files.walk(root)) {
      for (Path p : s.sorted((x, y) -> y.compareTo(x)).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
