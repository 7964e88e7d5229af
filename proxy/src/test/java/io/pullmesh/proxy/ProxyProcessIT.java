package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.pullmesh.testkit.Waits;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shaded jar as users run it ({@code java -jar pullmesh-proxy.jar ...}), a subprocess in front of a fake
 * registry in this JVM: startup line, health, a pull, metrics, SIGTERM, a warm restart on the same cache, and
 * every way a bad start must end with exit code 2 and a message naming what is wrong.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProxyProcessIT {
  private static final Duration START_DEADLINE = Duration.ofSeconds(30);
  private static final Duration EXIT_DEADLINE = Duration.ofSeconds(30);
  private static final Duration STOP_DEADLINE = Duration.ofSeconds(10);
  private static final Pattern LISTENING = Pattern.compile("listening on http://127\\.0\\.0\\.1:(\\d+)");

  Path modelDir;
  FakeModel model;
  FakeRegistry registry;
  final List<ProxyProcess> started = new ArrayList<>();

  @TempDir Path dir;

  @BeforeAll
  void startRegistry() throws IOException {
    modelDir = Files.createTempDirectory("pullmesh-it-model");
    model = ModelFixture.tiny().seed(23).create(modelDir);
    registry = FakeRegistry.start(model);
  }

  @AfterAll
  void stopRegistry() throws IOException {
    if (registry != null) {
      registry.close();
    }
    try (var s = Files.walk(modelDir)) {
      for (Path p : s.sorted((x, y) -> y.compareTo(x)).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  /** Whatever a test left running is killed, and waited for, before the next one. */
  @AfterEach
  void killLeftovers() throws InterruptedException {
    for (ProxyProcess p : started) {
      p.kill();
    }
    started.clear();
  }

  // ------------------------------------------------------------------ the process

  private static Path jar() {
    String jar = System.getProperty("pullmesh.proxy.jar");
    assertNotNull(jar, "system property pullmesh.proxy.jar (set by failsafe in proxy/pom.xml) names the shaded jar");
    Path p = Path.of(jar);
    assertTrue(Files.isRegularFile(p), "the shaded jar exists (built in the package phase): " + p);
    return p;
  }

  /**
   * {@code java -Xmx256m -jar pullmesh-proxy.jar args...}, with no PULLMESH_* variables inherited. Its stdout and
   * stderr go to files: reading the pipes instead races with the JDK's process reaper, which closes them when the
   * process exits, so a reader blocked on a pipe loses the last lines ("Stream closed"), exactly the ones a
   * SIGTERM'd proxy prints last.
   */
  private ProxyProcess launch(String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx256m");
    cmd.add("-jar");
    cmd.add(jar().toString());
    cmd.addAll(List.of(args));
    int n = started.size();
    Path out = dir.resolve("proc-" + n + ".out");
    Path err = dir.resolve("proc-" + n + ".err");
    ProcessBuilder pb = new ProcessBuilder(cmd)
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .redirectOutput(out.toFile())
        .redirectError(err.toFile());
    pb.environment().keySet().removeIf(k -> k.startsWith("PULLMESH_"));
    ProxyProcess p = new ProxyProcess(cmd, pb.start(), out, err);
    started.add(p);
    return p;
  }

  /**
   * GETs {@code url} in the background and SIGKILLs {@code p} (no shutdown hook, nothing flushed on the way out) once the
   * fake CDN has sent {@code atBytes} of {@code layer} since {@code before}.
   *
   * @return the bytes of the layer the CDN sent before the kill
   */
  private long killMidDownload(ProxyProcess p, String url, FakeBlob layer, long before, long atBytes) throws Exception {
    Thread client = new Thread(() -> {
      try {
        RawHttp.request("GET", url, Map.of(), Duration.ofSeconds(60));
      } catch (RuntimeException cutOff) {
        // the proxy is killed under it
      }
    });
    client.setDaemon(true);
    client.start();
    Waits.awaitTrue(() -> registry.stats().cdnBlobBytes(layer.digest()) - before >= atBytes, Duration.ofSeconds(60),
        () -> "the download progressed\n" + p.describe());
    p.process.destroyForcibly();
    p.process.waitFor();
    return registry.stats().cdnBlobBytes(layer.digest()) - before;
  }

  /** A running proxy with a cache at {@code cache}, in front of the fake registry. */
  private ProxyProcess launchProxy(Path cache) throws Exception {
    ProxyProcess p = launch("--listen", "127.0.0.1:0", "--upstream", registry.registryUrl(), "--cache-dir", cache.toString());
    p.awaitListening();
    return p;
  }

  /** A child process whose stdout and stderr are written to two files. */
  static final class ProxyProcess {
    final List<String> command;
    final Process process;
    private final Path out;
    private final Path err;
    int port = -1;
    String listeningLine;

    ProxyProcess(List<String> command, Process process, Path out, Path err) {
      this.command = command;
      this.process = process;
      this.out = out;
      this.err = err;
    }

    /**
     * Polls stdout (every 20 ms, until the deadline) for a complete line matching {@code p}; null when the
     * process ended without printing one or time ran out.
     */
    String awaitStdout(Predicate<String> p, Duration deadline) throws InterruptedException {
      long end = System.nanoTime() + deadline.toNanos();
      while (true) {
        boolean ended = !process.isAlive();
        String text = stdout();
        int lastNewline = text.lastIndexOf('\n');
        if (lastNewline >= 0) {
          for (String line : text.substring(0, lastNewline).split("\n")) {
            if (p.test(line)) {
              return line;
            }
          }
        }
        if (ended || System.nanoTime() > end) {
          return null;
        }
        Thread.sleep(20);
      }
    }

    void awaitListening() throws InterruptedException {
      String line = awaitStdout(l -> LISTENING.matcher(l).find(), START_DEADLINE);
      if (line == null) {
        fail("no 'listening on http://127.0.0.1:' line within " + START_DEADLINE + "\n" + describe());
      }
      Matcher m = LISTENING.matcher(line);
      assertTrue(m.find());
      listeningLine = line;
      port = Integer.parseInt(m.group(1));
      assertTrue(port > 0 && port < 65536, line);
    }

    String url() {
      return "http://127.0.0.1:" + port;
    }

    /** Waits for the process to exit; its exit code, or -1 if it is still running at the deadline. */
    int awaitExit(Duration deadline) throws InterruptedException {
      if (!process.waitFor(deadline.toMillis(), TimeUnit.MILLISECONDS)) {
        return -1;
      }
      return process.exitValue();
    }

    String stdout() {
      return read(out);
    }

    String stderr() {
      return read(err);
    }

    private static String read(Path p) {
      try {
        return Files.readString(p, StandardCharsets.UTF_8);
      } catch (IOException e) {
        return "<cannot read " + p + ": " + e + ">";
      }
    }

    String describe() {
      return String.join(" ", command) + "\n-> " + (process.isAlive() ? "still running" : "exit " + process.exitValue())
          + "\nstdout:\n" + stdout() + "\nstderr:\n" + stderr();
    }

    void kill() throws InterruptedException {
      if (process.isAlive()) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /** Runs the jar to its end; fails if it runs past the deadline (e.g. because it started serving). */
  private ProxyProcess runToExit(String... args) throws Exception {
    ProxyProcess p = launch(args);
    int code = p.awaitExit(EXIT_DEADLINE);
    if (code == -1) {
      fail("still running after " + EXIT_DEADLINE + "\n" + p.describe());
    }
    return p;
  }

  /** Exit code 2 and one stderr line {@code pullmesh: <message>} (log lines may precede it) naming every fragment. */
  private void assertExit2(ProxyProcess p, String... fragments) {
    assertEquals(2, p.process.exitValue(), p.describe());
    String message = p.stderr().lines().filter(l -> l.startsWith("pullmesh: ")).findFirst().orElse(null);
    assertNotNull(message, "a 'pullmesh: <message>' line on stderr\n" + p.describe());
    for (String f : fragments) {
      assertTrue(message.contains(f), "the message names '" + f + "'\n" + p.describe());
    }
    assertFalse(p.stdout().contains("listening on"), p.describe());
  }

  // ------------------------------------------------------------------ serving

  @Test
  void servesAPullReportsMetricsStopsOnSigtermAndRestartsWarm() throws Exception {
    Path cache = dir.resolve("cache");
    ProxyProcess first = launchProxy(cache);

    RawResponse health = RawHttp.get(first.url() + "/healthz");
    assertEquals(200, health.status(), health.toString());

    try (OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
      client.pull(first.url(), model.reference(), dir.resolve("ollama1"));
    }
    MirrorPullTest.assertSameBlobs(model, dir.resolve("ollama1"));
    long upstreamBytes = registry.stats().blobBytes();
    assertTrue(upstreamBytes >= model.totalBytes(), "the cold pull went upstream: " + upstreamBytes);

    RawResponse metrics = RawHttp.get(first.url() + "/metrics");
    assertEquals(200, metrics.status(), metrics.toString());
    assertTrue(metrics.bodyText().contains("pullmesh_upstream_bytes_total"), metrics.bodyText());
    assertTrue(metrics.bodyText().contains("pullmesh_blob_requests_total"), metrics.bodyText());
    // the jar's main put Netty's sockets on the pooled allocator with one direct arena (Main.nettyMemoryDefaults), not on
    // Netty 4.2's adaptive one
    assertTrue(metrics.bodyText().lines().anyMatch(l -> l.startsWith("netty_allocator_pooled_arenas{")
        && l.contains("allocator_type=\"PooledByteBufAllocator\"") && l.contains("memory_type=\"direct\"") && l.endsWith("} 1.0")),
        metrics.bodyText());

    first.process.destroy(); // SIGTERM
    int code = first.awaitExit(STOP_DEADLINE);
    assertTrue(code != -1, "exits within " + STOP_DEADLINE + " of SIGTERM\n" + first.describe());
    // the JVM ends a SIGTERM'd run with 128 + 15 once the shutdown hook is done
    assertTrue(code == 143 || code == 0, "exit code " + code + "\n" + first.describe());
    assertTrue(first.stderr().contains("shutting down"), first.describe());

    ProxyProcess second = launchProxy(cache);
    assertTrue(second.listeningLine.contains(" in " + model.blobs().size() + " blobs"),
        "the restarted proxy reports the blobs it kept: " + second.listeningLine);
    try (OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
      client.pull(second.url(), model.reference(), dir.resolve("ollama2"));
    }
    MirrorPullTest.assertSameBlobs(model, dir.resolve("ollama2"));
    assertEquals(upstreamBytes, registry.stats().blobBytes(), "the warm restart served every blob from its cache");
    // Ollama hangs up after the headers of each URL-resolution GET: routine, so never an ERROR in the log
    for (ProxyProcess p : new ProxyProcess[] {first, second}) {
      assertTrue(p.stderr().lines().noneMatch(l -> l.contains(" ERROR ")), "no ERROR log lines\n" + p.describe());
    }
  }

  @Test
  void regressionASigkillMidDownloadCostsAtMostOneSecondOfBytesNotThePiecesInFlight() throws Exception {
    // issue 18, item 3: only whole pieces were recorded, so a SIGKILL a third of the way in lost every byte of the pieces
    // in flight (1.38x the blob fetched in all). 8 connections at 1 MiB/s each on 8 MiB pieces: 8 pieces in flight,
    // about 32 MiB of them unfinished when it dies; the prefixes are recorded every second, so at most ~8 MiB is lost
    FakeModel big = ModelFixture.of("library/resume", "latest").layer(MediaTypes.MODEL, 96L << 20).seed(8).create(dir.resolve("resume-model"));
    FakeBlob layer = big.largestLayer();
    registry.addModel(big);
    registry.setCdnBytesPerSecond(1L << 20);
    try {
      Path cache = dir.resolve("resume-cache");
      String[] args = {"--listen", "127.0.0.1:0", "--upstream", registry.registryUrl(), "--cache-dir", cache.toString(),
          "--upstream-connections", "8", "--piece-size", "8m"};
      ProxyProcess first = launch(args);
      first.awaitListening();
      long before = registry.stats().cdnBlobBytes(layer.digest());
      long beforeKill = killMidDownload(first, first.url() + "/v2/library/resume/blobs/" + layer.digest(), layer, before, layer.size() / 3);

      registry.setCdnBytesPerSecond(0);
      ProxyProcess second = launch(args);
      second.awaitListening();
      RawResponse done = RawHttp.request("GET", second.url() + "/v2/library/resume/blobs/" + layer.digest(), Map.of(), Duration.ofSeconds(60));
      assertTrue(done.complete() && done.status() == 200, done.toString());
      assertArrayEquals(Files.readAllBytes(layer.file()), done.body());
      long total = registry.stats().cdnBlobBytes(layer.digest()) - before;
      double ratio = (double) total / layer.size();
      System.out.printf("resume after SIGKILL: %d bytes before the kill, %d in all for a blob of %d (%.3fx)%n", beforeKill, total,
          layer.size(), ratio);
      assertTrue(ratio <= 1.15, "at most 1.15x the blob fetched in all: " + String.format("%.3f", ratio) + "x\n" + second.describe());
    } finally {
      registry.setCdnBytesPerSecond(0);
    }
  }

  @Test
  void regressionCredentialsInTheUpstreamUrlAreUsedButNeverShown() throws Exception {
    // issue 18, item 5: with --upstream http://user:SECRET@host the startup line, GET /, the admin stats and the status
    // page (which shows the stats) all printed the password
    try (FakeRegistry privateRegistry = FakeRegistry.builder().requireAuth(true).tokenCredentials("bob", "S3CRET-pw").build()) {
      privateRegistry.addModel(model);
      privateRegistry.start();
      String url = privateRegistry.registryUrl().replace("http://", "http://bob:S3CRET-pw@");
      ProxyProcess p = launch("--listen", "127.0.0.1:0", "--upstream", url, "--cache-dir", dir.resolve("cache").toString());
      p.awaitListening();
      try (OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
        client.pull(p.url(), model.reference(), dir.resolve("ollama"));
      }
      MirrorPullTest.assertSameBlobs(model, dir.resolve("ollama"));
      assertTrue(p.listeningLine.contains("(upstream " + privateRegistry.registryUrl() + ","),
          "the credentials left the URL for the upstream's credentials: " + p.listeningLine);
      String[] shown = {p.stdout(), p.stderr(), RawHttp.get(p.url() + "/").bodyText(), RawHttp.get(p.url() + "/admin/v1/stats").bodyText(),
          RawHttp.get(p.url() + "/metrics").bodyText()};
      for (String text : shown) {
        assertFalse(text.contains("S3CRET"), "the password is never shown:\n" + text);
      }
    }
  }

  @Test
  void aDownloadKilledWithSigkillResumesFromItsPiecesAfterRestart() throws Exception {
    FakeModel big = ModelFixture.of("library/crash", "latest").layer(MediaTypes.MODEL, 24L << 20).seed(5).create(dir.resolve("crash-model"));
    FakeBlob layer = big.largestLayer();
    registry.addModel(big);
    // 4 connections of 1 MiB/s: the layer takes about 6 s, and its pieces are made durable every second
    registry.setCdnBytesPerSecond(1L << 20);
    try {
      Path cache = dir.resolve("crash-cache");
      String[] args = {"--listen", "127.0.0.1:0", "--upstream", registry.registryUrl(), "--cache-dir", cache.toString(),
          "--upstream-connections", "4", "--piece-size", "1m"};
      ProxyProcess first = launch(args);
      first.awaitListening();
      long before = registry.stats().cdnBlobBytes(layer.digest());
      long fetchedBeforeKill = killMidDownload(first, first.url() + "/v2/library/crash/blobs/" + layer.digest(), layer, before,
          layer.size() * 6 / 10);
      assertTrue(fetchedBeforeKill < layer.size(), "killed mid-download: " + fetchedBeforeKill + " of " + layer.size());

      ProxyProcess second = launch(args);
      second.awaitListening();
      try (OllamaLikeClient client2 = new OllamaLikeClient(ClientOptions.forTests().build())) {
        client2.pull(second.url(), big.reference(), dir.resolve("crash-ollama"));
      }
      MirrorPullTest.assertSameBlobs(big, dir.resolve("crash-ollama"));
      long refetched = registry.stats().cdnBlobBytes(layer.digest()) - before - fetchedBeforeKill;
      System.out.printf("crash resume: %d of %d bytes fetched before SIGKILL, %d fetched after the restart%n",
          fetchedBeforeKill, layer.size(), refetched);
      assertTrue(refetched < layer.size(), "after the restart only the missing pieces are fetched: " + refetched
          + " of " + layer.size() + " bytes\n" + second.describe());
      assertTrue(second.stderr().contains("resuming"), second.describe());
    } finally {
      registry.setCdnBytesPerSecond(0);
    }
  }

  // ------------------------------------------------------------------ admin and verify commands

  /** Pulls the model through {@code p} and waits (polling its admin API) until every blob is committed. */
  private void pullAndAwaitCommitted(ProxyProcess p, String dest) throws Exception {
    try (OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
      client.pull(p.url(), model.reference(), dir.resolve(dest));
    }
    Waits.awaitTrue(() -> new io.vertx.core.json.JsonObject(RawHttp.get(p.url() + "/admin/v1/stats").bodyText()).getJsonObject("cache")
        .getLong("blobs") >= model.blobs().size(), START_DEADLINE, () -> "every blob committed\n" + p.describe());
  }

  @Test
  void adminCommandsTalkToARunningProxyWhoseCacheVerifyLeavesAlone() throws Exception {
    Path cache = dir.resolve("cache");
    ProxyProcess proxy = launchProxy(cache);
    // printed just after the "listening on" line launchProxy waits for
    assertTrue(proxy.awaitStdout(l -> l.contains("pullmesh admin API at " + proxy.url() + "/admin/v1/ (changes from this machine only"),
        Duration.ofSeconds(10)) != null, proxy.describe());
    pullAndAwaitCommitted(proxy, "ollama");

    ProxyProcess stats = runToExit("admin", "stats", "--url", proxy.url());
    assertEquals(0, stats.process.exitValue(), stats.describe());
    assertTrue(stats.stdout().contains("cache      " + cache.toAbsolutePath()), stats.describe());
    assertTrue(stats.stdout().contains(" in " + model.blobs().size() + " blobs, limit "), stats.describe());
    assertEquals("", stats.stderr(), stats.describe());

    ProxyProcess models = runToExit("admin", "models", "--json", "--url", proxy.url());
    assertEquals(0, models.process.exitValue(), models.describe());
    io.vertx.core.json.JsonArray list = new io.vertx.core.json.JsonArray(models.stdout());
    assertEquals(model.manifestDigest().toString(), list.getJsonObject(0).getString("digest"));

    ProxyProcess locked = runToExit("verify", "--cache-dir", cache.toString());
    assertEquals(2, locked.process.exitValue(), locked.describe());
    assertTrue(locked.stderr().contains("pullmesh verify: " + cache.toAbsolutePath() + " is in use by a running proxy: stop it first, "
        + "or verify through it with `admin verify`"), locked.describe());
    assertTrue(proxy.process.isAlive(), "the proxy keeps running\n" + proxy.describe());
    assertEquals(200, RawHttp.get(proxy.url() + "/healthz").status());
  }

  @Test
  void verifyQuarantinesACorruptBlobOfAStoppedCache() throws Exception {
    Path cache = dir.resolve("cache");
    ProxyProcess proxy = launchProxy(cache);
    pullAndAwaitCommitted(proxy, "ollama");
    proxy.process.destroy(); // SIGTERM
    assertTrue(proxy.awaitExit(STOP_DEADLINE) != -1, proxy.describe());

    FakeBlob victim = model.largestLayer();
    String hex = victim.digest().hex();
    Path file = cache.resolve("blobs").resolve("sha256").resolve(hex.substring(0, 2)).resolve(hex);
    assertTrue(Files.exists(file), file.toString());
    AdminApiTest.corrupt(file);

    ProxyProcess verify = runToExit("verify", "--cache-dir", cache.toString());
    assertEquals(1, verify.process.exitValue(), verify.describe());
    assertTrue(verify.stdout().startsWith("checked " + model.blobs().size() + " blobs ("), verify.describe());
    assertTrue(verify.stdout().contains("1 corrupt, moved to " + cache.toAbsolutePath().resolve("quarantine")), verify.describe());
    assertTrue(verify.stdout().contains("  corrupt     " + victim.digest()), verify.describe());
    assertTrue(verify.stderr().contains("100%"), "progress on stderr\n" + verify.describe());
    assertFalse(verify.stderr().contains("\r"), "stderr is a file here: plain lines\n" + verify.describe());
    assertTrue(Files.exists(cache.resolve("quarantine").resolve("sha256-" + hex)), verify.describe());
    assertFalse(Files.exists(file));

    ProxyProcess again = runToExit("verify", "--cache-dir", cache.toString());
    assertEquals(0, again.process.exitValue(), again.describe());
    assertTrue(again.stdout().contains("all match their digests"), again.describe());
  }

  @Test
  void adminWithNoProxyThereExits2NamingTheUrl() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      port = s.getLocalPort();
    }
    ProxyProcess p = runToExit("admin", "stats", "--url", "http://127.0.0.1:" + port);
    assertEquals(2, p.process.exitValue(), p.describe());
    assertTrue(p.stderr().startsWith("pullmesh admin: cannot connect to http://127.0.0.1:" + port), p.describe());
  }

  // ------------------------------------------------------------------ command line

  @Test
  void helpExitsZeroAndListsEveryOption() throws Exception {
    ProxyProcess p = runToExit("--help");
    assertEquals(0, p.process.exitValue(), p.describe());
    for (ProxyConfig.Option o : ProxyConfig.Option.values()) {
      assertTrue(p.stdout().contains(o.flag() + " " + o.arg), "--help lists " + o.flag() + "\n" + p.stdout());
      assertTrue(p.stdout().contains(o.env()), "--help names " + o.env() + "\n" + p.stdout());
    }
    assertTrue(p.stdout().contains("--help") && p.stdout().contains("--version"), p.stdout());
  }

  @Test
  void anUnknownFlagExits2NamingIt() throws Exception {
    ProxyProcess p = runToExit("--no-such-flag", "--cache-dir", dir.resolve("cache").toString());
    assertExit2(p, "--no-such-flag");
  }

  @Test
  void aBadNumberExits2NamingTheOptionAndWhatIsExpected() throws Exception {
    ProxyProcess p = runToExit("--upstream-connections", "abc", "--cache-dir", dir.resolve("cache").toString());
    assertExit2(p, "--upstream-connections", "'abc'", "expected a whole number from 1 to 256");
  }

  @Test
  void aCacheDirThatIsARegularFileExits2() throws Exception {
    Path file = Files.writeString(dir.resolve("not-a-dir"), "x");
    ProxyProcess p = runToExit("--listen", "127.0.0.1:0", "--upstream", registry.registryUrl(), "--cache-dir", file.toString());
    assertExit2(p, "--cache-dir", "not a directory");
  }

  @Test
  void aSecondProcessOnTheSameCacheDirExits2() throws Exception {
    Path cache = dir.resolve("cache");
    ProxyProcess first = launchProxy(cache);
    ProxyProcess second = runToExit("--listen", "127.0.0.1:0", "--upstream", registry.registryUrl(), "--cache-dir", cache.toString());
    assertExit2(second, "in use", "--cache-dir");
    assertTrue(first.process.isAlive(), "the first keeps running");
    assertEquals(200, RawHttp.get(first.url() + "/healthz").status());
  }

  @Test
  void aPortAlreadyBoundExits2() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
      ProxyProcess p = runToExit("--listen", "127.0.0.1:" + taken.getLocalPort(), "--upstream", registry.registryUrl(),
          "--cache-dir", dir.resolve("cache").toString());
      assertExit2(p, "cannot listen", "127.0.0.1:" + taken.getLocalPort());
    }
  }
}
