package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.metrics.MeterNames;
import io.pullmesh.proxy.CompatibilityRecorder.Mode;
import io.pullmesh.testkit.Waits;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.client.PullException;
import io.pullmesh.testkit.client.PullResult;
import io.pullmesh.testkit.client.RedirectMode;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.AccessLogEntry;
import io.pullmesh.testkit.registry.DistributionRegistry;
import io.pullmesh.testkit.registry.StorageFileServer;
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
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * pullmesh in front of a real OCI registry: the CNCF distribution registry ({@code docker-registry} 2.8, as
 * Debian ships it) as a subprocess on loopback, holding Ollama-format models pushed through its own upload API.
 * Three upstream set-ups, each test run against each where it makes sense:
 *
 * <ul>
 *   <li>{@link Upstream#OPEN}: anonymous; blob GETs answered with a plain 200 (no Location, which older Ollama
 *       builds cannot pull from directly);
 *   <li>{@link Upstream#AUTH}: {@code auth.htpasswd}, so every request needs HTTP Basic credentials; pullmesh
 *       has them ({@code --upstream-username}, {@code --upstream-password-file}), its clients do not;
 *   <li>{@link Upstream#REDIRECT}: blob GETs answered with a 307 to a plain file server on another host name
 *       (127.0.0.2) serving the registry's storage directory, as a registry behind an object store or CDN.
 * </ul>
 *
 * <p>Each test pushes its own model and starts its own pullmesh with an empty cache, so "cold" means cold.
 * Upstream traffic is counted in the registry's access log, in the file server's byte counters and in
 * pullmesh's {@code pullmesh.upstream.bytes}. Every test records its rows of docs/compatibility.md
 * ({@link CompatibilityRecorder}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DistributionRegistryTest {
  private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(60);
  private static final Duration LOG_QUIET = Duration.ofMillis(250);
  private static final String USER = "pullmesh";
  private static final String OLLAMA_STRICT = "Ollama-like client, strict URL resolution (older Ollama builds)";
  private static final String OLLAMA_LENIENT = "Ollama-like client, lenient URL resolution (newer Ollama builds)";
  private static final String OLLAMA_VERSION = "testkit (server/download.go logic)";
  private static final String ACCEPT_MANIFEST = MediaTypes.MANIFEST_V2;

  enum Upstream {
    OPEN("open"),
    AUTH("htpasswd, HTTP Basic auth"),
    REDIRECT("blob GETs 307 to a file server");

    final String label;

    Upstream(String label) {
      this.label = label;
    }
  }

  @RegisterExtension final CompatibilityRecorder compat = new CompatibilityRecorder();

  private Path dir;
  private String password;
  private Path passwordFile;
  private String registryVersion;
  private DistributionRegistry open;
  private DistributionRegistry auth;
  private DistributionRegistry redirect;
  private StorageFileServer fileServer;
  private int seed = 1000;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(10)).build();

  @BeforeAll
  void start() throws IOException {
    Path exe = Tools.requireTool(ExternalTool.DOCKER_REGISTRY);
    registryVersion = DistributionRegistry.version(exe);
    dir = Files.createTempDirectory("pullmesh-distribution");
    byte[] secret = new byte[12];
    new SecureRandom().nextBytes(secret);
    password = HexFormat.of().formatHex(secret);
    passwordFile = dir.resolve("upstream-password");
    Files.writeString(passwordFile, password + "\n", StandardCharsets.UTF_8);
    open = DistributionRegistry.builder().executable(exe).start(dir.resolve("open"));
    auth = DistributionRegistry.builder().executable(exe).credentials(USER, password).start(dir.resolve("auth"));
    fileServer = StorageFileServer.start("127.0.0.2", dir.resolve("redirect").resolve("storage"));
    redirect = DistributionRegistry.builder().executable(exe).redirectBlobsTo(fileServer.url()).start(dir.resolve("redirect"));
  }

  @AfterAll
  void stop() throws IOException {
    try {
      for (AutoCloseable c : Arrays.asList(open, auth, redirect, fileServer)) {
        if (c != null) {
          try {
            c.close();
          } catch (Exception e) {
            // keep closing the others
          }
        }
      }
    } finally {
      open = auth = redirect = null;
      fileServer = null;
      deleteTree(dir);
    }
  }

  // ------------------------------------------------------------------ one test's upstream, model and proxy

  /** A model pushed to one of the registries and an empty pullmesh in front of that registry. */
  private final class Setup implements AutoCloseable {
    final Upstream kind;
    final DistributionRegistry registry;
    final FakeModel model;
    final PullmeshProxy proxy;

    Setup(Upstream kind, String name, long layerSize) {
      this.kind = kind;
      this.registry = switch (kind) {
        case OPEN -> open;
        case AUTH -> auth;
        case REDIRECT -> redirect;
      };
      String repo = "library/" + name + "-" + kind.name().toLowerCase(Locale.ROOT);
      this.model = ModelFixture.of(repo, "latest").layer(MediaTypes.MODEL, layerSize).layer(MediaTypes.TEMPLATE, 311)
          .layer(MediaTypes.PARAMS, 97).seed(seed++).create(dir.resolve("models").resolve(repo));
      assertEquals(model.manifestDigest(), registry.push(model), "the registry took the manifest as pushed");
      List<String> args = new ArrayList<>();
      if (kind == Upstream.AUTH) {
        args.addAll(List.of("--upstream-username", USER, "--upstream-password-file", passwordFile.toString()));
      }
      Path cache = dir.resolve("cache-" + repo.replace('/', '-'));
      this.proxy = PullmeshProxy.start(Harness.config(registry.url(), cache, args.toArray(String[]::new)), Harness.testFetchConfig(8),
          Clock.systemUTC());
    }

    String upstreamLabel() {
      return "docker-registry " + registryVersion + ", " + kind.label;
    }

    String blobUrl(FakeBlob b) {
      return proxy.url() + "/v2/" + model.repository() + "/blobs/" + b.digest();
    }

    String manifestUrl(String reference) {
      return proxy.url() + "/v2/" + model.repository() + "/manifests/" + reference;
    }

    /** Blob bytes upstream sent for this model so far: the registry's access log, or the file server's counters. */
    long upstreamBlobBytes() {
      return model.blobs().stream().mapToLong(this::upstreamBlobBytes).sum();
    }

    long upstreamBlobBytes(FakeBlob b) {
      return kind == Upstream.REDIRECT ? fileServer.blobBytesSent(b.digest()) : registry.blobBytesSent(b.digest());
    }

    /**
     * Blob requests for this model the registry answered with a 2xx or 3xx (a 401 challenge is not counted).
     * Once the bytes of a blob are all logged, so are its successful requests: pieces do not overlap, and the
     * probe that locates a blob comes first.
     */
    long upstreamBlobRequests() {
      return registry.accessLog().stream().filter(e -> e.status() / 100 == 2 || e.status() / 100 == 3)
          .filter(e -> model.blobs().stream().anyMatch(b -> e.isBlob(b.digest().toString()))).count();
    }

    /** {@code pullmesh.upstream.bytes{kind=blob}}. */
    double proxyUpstreamBlobBytes() {
      return proxy.meterRegistry().find(MeterNames.UPSTREAM_BYTES).tag("kind", "blob").counters().stream()
          .mapToDouble(c -> c.count()).sum();
    }

    void awaitIdle() throws InterruptedException {
      Waits.awaitTrue(() -> proxy.downloads().activeCount() == 0, "downloads finished");
    }

    void awaitCommitted(FakeBlob b) throws InterruptedException {
      Waits.awaitTrue(() -> proxy.store().lookup(b.digest()).isPresent(), b.digest() + " committed");
    }

    /**
     * Upstream carried each blob once: its size, plus at most the 1-byte probe that located it. (The registry
     * logs a request after its response, so wait for the lines to reach the size.)
     */
    void assertEachBlobFetchedOnce() throws InterruptedException {
      awaitIdle();
      for (FakeBlob b : model.blobs()) {
        awaitUpstreamBytes(b);
        long sent = upstreamBlobBytes(b);
        assertTrue(sent >= b.size() && sent <= b.size() + 1, "upstream sent " + sent + " bytes for " + b.digest().shortHex()
            + " of " + b.size() + "; registry log:" + log());
      }
    }

    void awaitUpstreamBytes(FakeBlob b) throws InterruptedException {
      Waits.awaitTrue(() -> upstreamBlobBytes(b) >= b.size(), "upstream logged all of " + b.digest().shortHex());
    }

    /** This model's lines of the registry's access log, for assertion messages. */
    String log() {
      return registry.accessLog().stream().filter(e -> e.path().startsWith("/v2/" + model.repository() + "/"))
          .map(AccessLogEntry::toString).collect(Collectors.joining("\n  ", "\n  ", ""));
    }

    @Override
    public void close() {
      proxy.close();
    }
  }

  private HttpResponse<byte[]> send(String method, String url, String... headers) throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30))
        .method(method, HttpRequest.BodyPublishers.noBody());
    if (headers.length > 0) {
      b.headers(headers);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  private static String header(HttpResponse<?> r, String name) {
    return r.headers().firstValue(name).orElse(null);
  }

  // ------------------------------------------------------------------ pullmesh as a mirror of the registry

  @ParameterizedTest
  @EnumSource(Upstream.class)
  void manifestsAndBlobsAreMirroredByteForByte(Upstream kind) throws Exception {
    try (Setup s = new Setup(kind, "mirror", (3L << 20) + 17)) {
      FakeModel m = s.model;
      // what the registry itself answers (with the credentials only pullmesh has)
      List<String> direct = new ArrayList<>(List.of("Accept", ACCEPT_MANIFEST));
      if (kind == Upstream.AUTH) {
        direct.addAll(List.of("Authorization", "Basic " + Base64.getEncoder().encodeToString((USER + ":" + password).getBytes(StandardCharsets.UTF_8))));
        assertEquals(401, send("GET", s.registry.url() + "/v2/" + m.repository() + "/manifests/latest", "Accept", ACCEPT_MANIFEST).statusCode(),
            "the registry wants credentials");
      }
      HttpResponse<byte[]> fromRegistry = send("GET", s.registry.url() + "/v2/" + m.repository() + "/manifests/latest", direct.toArray(String[]::new));
      assertEquals(200, fromRegistry.statusCode());
      assertArrayEquals(m.manifestBytes(), fromRegistry.body(), "the registry stored the manifest unchanged");
      String type = header(fromRegistry, "Content-Type");
      String digest = header(fromRegistry, "Docker-Content-Digest");
      assertEquals(MediaTypes.MANIFEST_V2, type);
      assertEquals(m.manifestDigest().toString(), digest);

      for (String ref : List.of(m.tag(), m.manifestDigest().toString())) {
        HttpResponse<byte[]> r = send("GET", s.manifestUrl(ref), "Accept", ACCEPT_MANIFEST);
        assertEquals(200, r.statusCode(), ref);
        assertArrayEquals(fromRegistry.body(), r.body(), "manifest by " + ref);
        assertEquals(type, header(r, "Content-Type"), ref);
        assertEquals(digest, header(r, "Docker-Content-Digest"), ref);
      }
      HttpResponse<byte[]> head = send("HEAD", s.manifestUrl(m.tag()), "Accept", ACCEPT_MANIFEST);
      assertEquals(200, head.statusCode());
      assertEquals(Integer.toString(m.manifestBytes().length), header(head, "Content-Length"));
      assertEquals(digest, header(head, "Docker-Content-Digest"));
      assertEquals(type, header(head, "Content-Type"));

      for (FakeBlob b : m.blobs()) {
        HttpResponse<byte[]> h = send("HEAD", s.blobUrl(b));
        assertEquals(200, h.statusCode(), b.digest().toString());
        assertEquals(Long.toString(b.size()), header(h, "Content-Length"), b.digest().toString());
        assertEquals(b.digest().toString(), header(h, "Docker-Content-Digest"));
        HttpResponse<byte[]> g = send("GET", s.blobUrl(b));
        assertEquals(200, g.statusCode(), b.digest().toString());
        assertArrayEquals(Files.readAllBytes(b.file()), g.body(), b.digest().toString());
      }
      s.assertEachBlobFetchedOnce();

      List<AccessLogEntry> fromPullmesh = s.registry.accessLog().stream()
          // a client that is not Ollama (the JDK's HttpClient here) is fetched for under the configured --user-agent, a current
          // Ollama's by default, so that version-gated models are served to it
          .filter(e -> e.userAgent().equals(io.pullmesh.fetch.FetchConfig.DEFAULT_USER_AGENT) && e.path().startsWith("/v2/" + m.repository() + "/"))
          .toList();
      if (kind == Upstream.AUTH) {
        // the registry logs no user name; a 401 then 2xx answers to pullmesh show it met the challenge and got in
        assertTrue(fromPullmesh.stream().anyMatch(e -> e.status() == 401), "pullmesh met the registry's challenge" + s.log());
        assertTrue(fromPullmesh.stream().anyMatch(e -> e.isManifest() && e.status() == 200), "and got the manifest" + s.log());
      }
      if (kind == Upstream.REDIRECT) {
        List<AccessLogEntry> blobGets = fromPullmesh.stream().filter(e -> e.path().contains("/blobs/") && e.method().equals("GET")).toList();
        assertFalse(blobGets.isEmpty(), s.log());
        assertTrue(blobGets.stream().allMatch(e -> e.status() == 307 && e.bytes() == 0),
            "the registry only redirected pullmesh's blob GETs; every byte came from the file server" + s.log());
      }
      compat.row("distribution registry (docker-registry)", registryVersion, Mode.UPSTREAM, s.upstreamLabel(),
          "pushed through its upload API; through pullmesh: manifest by tag and by digest byte-identical with the registry's"
              + " Content-Type and Docker-Content-Digest; HEAD (Content-Length) and GET of every blob; each blob fetched upstream once");
    }
  }

  // ------------------------------------------------------------------ the Ollama-like client

  @ParameterizedTest
  @EnumSource(Upstream.class)
  void ollamaLikeClientsPullThroughPullmeshColdThenWarm(Upstream kind) throws Exception {
    try (Setup s = new Setup(kind, "ollama", (6L << 20) + 5);
        OllamaLikeClient strict = new OllamaLikeClient(ClientOptions.forTests().redirectMode(RedirectMode.STRICT).build());
        OllamaLikeClient lenient = new OllamaLikeClient(ClientOptions.forTests().redirectMode(RedirectMode.LENIENT).build())) {
      FakeModel m = s.model;
      Path coldDir = dir.resolve("pulls").resolve(kind + "-cold");
      PullResult cold = strict.pull(s.proxy.url(), m.reference(), coldDir);
      MirrorPullTest.assertSameBlobs(m, coldDir);
      assertEquals(m.manifestDigest(), cold.manifestDigest());
      assertArrayEquals(m.manifestBytes(), Files.readAllBytes(cold.manifestPath()));
      assertEquals(0, cold.cacheHits());
      assertTrue(cold.blobs().stream().allMatch(b -> b.directUrl().startsWith(s.proxy.url())),
          "the direct URL of every blob is pullmesh's own: " + cold.blobs());
      s.assertEachBlobFetchedOnce();
      long upstream = s.upstreamBlobBytes();
      // pullmesh counts what it received, the probes' single bytes a moment after the probes answered
      Waits.awaitTrue(() -> s.proxyUpstreamBlobBytes() == upstream,
          "pullmesh.upstream.bytes{kind=blob} = " + upstream + ", the bytes upstream sent");
      double metric = s.proxyUpstreamBlobBytes();
      long blobRequests = s.upstreamBlobRequests();

      for (OllamaLikeClient client : List.of(strict, lenient)) {
        Path warmDir = dir.resolve("pulls").resolve(kind + "-warm-" + client.options().redirectMode());
        PullResult warm = client.pull(s.proxy.url(), m.reference(), warmDir);
        MirrorPullTest.assertSameBlobs(m, warmDir);
        assertEquals(m.manifestDigest(), warm.manifestDigest());
        assertEquals(0, warm.cacheHits(), "a fresh models directory: every blob came over the network, from pullmesh");
      }
      s.awaitIdle();
      s.registry.settledAccessLog(LOG_QUIET);
      assertEquals(blobRequests, s.upstreamBlobRequests(), "warm pulls sent no blob request upstream" + s.log());
      assertEquals(upstream, s.upstreamBlobBytes(), "warm pulls fetched no blob byte upstream");
      assertEquals(metric, s.proxyUpstreamBlobBytes(), "pullmesh.upstream.bytes did not move");

      String checks = "cold (strict) then warm pulls; every blob's SHA-256 and the manifest bytes; each blob fetched upstream once,"
          + " none on the warm pulls (registry log and pullmesh.upstream.bytes)";
      compat.row(OLLAMA_STRICT, OLLAMA_VERSION, Mode.MIRROR, s.upstreamLabel(), checks);
      compat.row(OLLAMA_LENIENT, OLLAMA_VERSION, Mode.MIRROR, s.upstreamLabel(), "warm pull; every blob's SHA-256; nothing fetched upstream");
    }
  }

  /**
   * The contrast: straight from the distribution registry, an Ollama build that wants a Location on the 200 of
   * its URL resolution fails (Ollama #7244), and one that takes the blob URL itself succeeds. Through pullmesh
   * both succeed ({@link #ollamaLikeClientsPullThroughPullmeshColdThenWarm}).
   */
  @Test
  void straightFromTheRegistryTheStrictClientFailsForWantOfALocation() throws Exception {
    FakeModel m = ModelFixture.of("library/direct", "latest").layer(MediaTypes.MODEL, 1L << 20).layer(MediaTypes.PARAMS, 97)
        .seed(seed++).create(dir.resolve("models").resolve("direct"));
    open.push(m);
    try (OllamaLikeClient strict = new OllamaLikeClient(ClientOptions.forTests().redirectMode(RedirectMode.STRICT).build());
        OllamaLikeClient lenient = new OllamaLikeClient(ClientOptions.forTests().redirectMode(RedirectMode.LENIENT).build())) {
      PullException e = assertThrows(PullException.class, () -> strict.pull(open.url(), m.reference(), dir.resolve("pulls").resolve("direct-strict")));
      assertTrue(e.getMessage().contains("no Location header in response"), e.getMessage());
      Waits.awaitTrue(() -> open.accessLog().stream().anyMatch(x -> x.isBlob(m.layers().get(0).digest().toString())
          && x.method().equals("GET") && x.status() == 200 && x.bytes() > 0), "the registry answered the resolving GET with a plain 200");

      Path lenientDir = dir.resolve("pulls").resolve("direct-lenient");
      lenient.pull(open.url(), m.reference(), lenientDir);
      MirrorPullTest.assertSameBlobs(m, lenientDir);
    }
    String upstream = "docker-registry " + registryVersion + ", " + Upstream.OPEN.label;
    compat.row(OLLAMA_STRICT, OLLAMA_VERSION, Mode.DIRECT, upstream, "pull straight from the registry",
        "fails as Ollama does: \"http: no Location header in response\" (plain 200 on the blob GET, Ollama #7244); works through pullmesh");
    compat.row(OLLAMA_LENIENT, OLLAMA_VERSION, Mode.DIRECT, upstream, "pull straight from the registry; every blob's SHA-256");
  }

  // ------------------------------------------------------------------ skopeo

  private ProcessResult skopeo(String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Tools.requireTool(ExternalTool.SKOPEO).toString());
    cmd.addAll(Arrays.asList(args));
    return Tools.run(TOOL_TIMEOUT, cmd);
  }

  @ParameterizedTest
  @EnumSource(Upstream.class)
  void skopeoInspectRawGetsTheManifestByteForByte(Upstream kind) throws Exception {
    Path exe = Tools.requireTool(ExternalTool.SKOPEO);
    try (Setup s = new Setup(kind, "skopeo", 100_003)) {
      String expected = new String(s.model.manifestBytes(), StandardCharsets.UTF_8);
      String base = "docker://127.0.0.1:" + s.proxy.port() + "/" + s.model.repository();
      for (String ref : List.of(base + ":" + s.model.tag(), base + "@" + s.model.manifestDigest())) {
        ProcessResult r = skopeo("inspect", "--raw", "--tls-verify=false", ref);
        assertTrue(r.succeeded(), r.describe());
        assertEquals(expected, r.stdout(), ref);
      }
      compat.row("skopeo inspect --raw", CompatibilityRecorder.skopeoVersion(exe), Mode.MIRROR, s.upstreamLabel(),
          "manifest by tag and by digest, byte-identical");
    }
  }

  /**
   * skopeo 1.9 parses a Docker schema 2 manifest before doing anything with it and refuses layer media types
   * outside Docker's list ({@code unsupported docker v2s2 media type: "application/vnd.ollama.image.model"}),
   * so {@code inspect} (without --raw), {@code inspect --config} and {@code copy} cannot handle an Ollama model
   * from any registry. This test shows the refusal is skopeo's own: the same message straight from the
   * registry and through pullmesh. Nothing to work around in a mirror (rewriting the manifest would change its
   * digest).
   */
  @Test
  void skopeoRefusesOllamaLayerTypesTheSameStraightFromTheRegistryAndThroughPullmesh() throws Exception {
    Path exe = Tools.requireTool(ExternalTool.SKOPEO);
    String refusal = "unsupported docker v2s2 media type: \\\"" + MediaTypes.MODEL + "\\\"";
    try (Setup s = new Setup(Upstream.OPEN, "skopeo-refused", 100_005)) {
      Path out = Files.createDirectories(dir.resolve("skopeo-copy"));
      List<List<String>> commands = List.of(List.of("inspect", "--tls-verify=false"), List.of("inspect", "--config", "--tls-verify=false"),
          List.of("copy", "--src-tls-verify=false"));
      for (List<String> command : commands) {
        for (int port : new int[] {s.registry.port(), s.proxy.port()}) {
          List<String> args = new ArrayList<>(command);
          args.add("docker://127.0.0.1:" + port + "/" + s.model.reference());
          if (command.get(0).equals("copy")) {
            args.add("dir:" + out.resolve(Integer.toString(port)));
          }
          ProcessResult r = skopeo(args.toArray(String[]::new));
          assertFalse(r.succeeded(), r.describe());
          assertTrue(r.stderr().contains(refusal), r.describe());
        }
      }
      String version = CompatibilityRecorder.skopeoVersion(exe);
      String result = "refused by skopeo itself: \"unsupported docker v2s2 media type\" for Ollama's layer types;"
          + " identical straight from the registry";
      compat.row("skopeo inspect, inspect --config, copy", version, Mode.MIRROR, s.upstreamLabel(), "the refusal, through pullmesh", result);
      compat.row("skopeo inspect, inspect --config, copy", version, Mode.DIRECT, s.upstreamLabel(), "the refusal, straight from the registry",
          "refused by skopeo itself (same message)");
    }
  }

  // ------------------------------------------------------------------ curl

  private static ProcessResult curl(String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Tools.requireTool(ExternalTool.CURL).toString());
    cmd.addAll(Arrays.asList(args));
    return Tools.run(TOOL_TIMEOUT, cmd);
  }

  private static String dumpHeader(String dump, String name) {
    String found = null;
    for (String line : dump.split("\r?\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).strip().equalsIgnoreCase(name)) {
        found = line.substring(colon + 1).strip();
      }
    }
    return found;
  }

  @ParameterizedTest
  @EnumSource(Upstream.class)
  void curlGetsRangesAndWholeBlobsColdThenWarm(Upstream kind) throws Exception {
    Path exe = Tools.requireTool(ExternalTool.CURL);
    try (Setup s = new Setup(kind, "curl", (3L << 20) + 7)) {
      FakeBlob layer = s.model.layers().get(0);
      byte[] all = Files.readAllBytes(layer.file());
      long size = layer.size();
      long[][] ranges = {{1_000_000, 1_070_000}, {0, 0}, {size - 1, size - 1}, {65_535, 65_536 + 1_048_576}, {size - 200_000, size - 1}};
      Path out = Files.createDirectories(dir.resolve("curl-" + kind));
      long upstreamAfterCold = -1;
      for (String state : List.of("cold", "warm")) {
        for (int i = 0; i < ranges.length; i++) {
          long a = ranges[i][0];
          long b = ranges[i][1];
          Path file = out.resolve(state + "-" + i);
          ProcessResult r = curl("-sS", "-f", "-D", "-", "-r", a + "-" + b, "-o", file.toString(), s.blobUrl(layer));
          assertTrue(r.succeeded(), r.describe());
          assertTrue(r.stdout().startsWith("HTTP/1.1 206"), r.stdout());
          assertEquals("bytes " + a + "-" + b + "/" + size, dumpHeader(r.stdout(), "Content-Range"), r.stdout());
          if (i == 0) {
            assertEquals(state.equals("cold") ? "miss" : "hit", dumpHeader(r.stdout(), "X-Pullmesh-Cache"), r.stdout());
          }
          assertArrayEquals(Arrays.copyOfRange(all, (int) a, (int) b + 1), Files.readAllBytes(file), state + " range " + a + "-" + b);
        }
        Path suffix = out.resolve(state + "-suffix");
        ProcessResult r = curl("-sS", "-f", "-r", "-500", "-o", suffix.toString(), s.blobUrl(layer));
        assertTrue(r.succeeded(), r.describe());
        assertArrayEquals(Arrays.copyOfRange(all, (int) size - 500, (int) size), Files.readAllBytes(suffix), state + " -500");
        Path whole = out.resolve(state + "-whole");
        r = curl("-sS", "-f", "-L", "-o", whole.toString(), s.blobUrl(layer));
        assertTrue(r.succeeded(), r.describe());
        assertArrayEquals(all, Files.readAllBytes(whole), state + " whole blob");
        if (state.equals("cold")) {
          s.awaitCommitted(layer);
          s.awaitIdle();
          s.awaitUpstreamBytes(layer);
          upstreamAfterCold = s.upstreamBlobBytes(layer);
          assertTrue(upstreamAfterCold >= size && upstreamAfterCold <= size + 1, "upstream sent " + upstreamAfterCold + s.log());
        }
      }
      s.awaitIdle();
      s.registry.settledAccessLog(LOG_QUIET);
      assertEquals(upstreamAfterCold, s.upstreamBlobBytes(layer), "warm requests fetched nothing upstream");
      compat.row("curl", CompatibilityRecorder.curlVersion(exe), Mode.MIRROR, s.upstreamLabel(),
          "byte ranges (a-b, first and last byte, across pieces, the tail, -n) and the whole blob, cold then warm;"
              + " bytes compared; warm fetched nothing upstream");
    }
  }

  // ------------------------------------------------------------------ aria2c

  @ParameterizedTest
  @EnumSource(Upstream.class)
  void aria2cSplitsABlobSixteenWaysColdThenWarm(Upstream kind) throws Exception {
    Path aria2c = Tools.requireTool(ExternalTool.ARIA2C);
    try (Setup s = new Setup(kind, "aria2c", (6L << 20) + 12_345)) {
      FakeBlob layer = s.model.layers().get(0);
      long upstreamAfterCold = -1;
      for (String state : List.of("cold", "warm")) {
        Path d = Files.createDirectories(dir.resolve("aria2c-" + kind).resolve(state));
        ProcessResult r = Tools.run(TOOL_TIMEOUT, aria2c.toString(), "-x16", "-s16", "-k1M", "--allow-overwrite=true",
            "--auto-file-renaming=false", "--check-integrity=true", "--checksum=sha-256=" + layer.digest().hex(),
            "--console-log-level=warn", "--summary-interval=0", "--no-conf=true", "-d", d.toString(), "-o", "blob", s.blobUrl(layer));
        assertTrue(r.succeeded(), state + ": " + r.describe());
        assertEquals(layer.digest(), MirrorPullTest.sha256(d.resolve("blob")), state);
        if (state.equals("cold")) {
          s.awaitCommitted(layer);
          s.awaitIdle();
          s.awaitUpstreamBytes(layer);
          upstreamAfterCold = s.upstreamBlobBytes(layer);
          assertTrue(upstreamAfterCold >= layer.size() && upstreamAfterCold <= layer.size() + 1, "upstream sent " + upstreamAfterCold + s.log());
        }
      }
      s.awaitIdle();
      s.registry.settledAccessLog(LOG_QUIET);
      assertEquals(upstreamAfterCold, s.upstreamBlobBytes(layer), "the warm download fetched nothing upstream");
      compat.row("aria2c -x16 -s16", CompatibilityRecorder.aria2cVersion(aria2c), Mode.MIRROR, s.upstreamLabel(),
          "a 6 MiB blob in 1 MiB splits, cold then warm; SHA-256 checked by aria2c and by the test; warm fetched nothing upstream");
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
