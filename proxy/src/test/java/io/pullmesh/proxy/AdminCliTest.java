package io.pullmesh.proxy;

import static io.pullmesh.proxy.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Bytes;
import io.pullmesh.proxy.CliRun.Result;
import io.pullmesh.testkit.Waits;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code java -jar pullmesh-proxy.jar admin ...} and {@code verify ...} run in-process through {@link Main#run}
 * against an in-process proxy: exit codes, what each command prints, progress output, {@code --json}, and the
 * messages for a refused connection, a wrong token, bad input and a cache in use.
 */
class AdminCliTest {
  private static final String TOKEN = "0123456789abcdef-cli-token";
  private static final Duration DEADLINE = Duration.ofSeconds(30);

  @TempDir Path dir;

  /** {@code admin <args> --url <proxy>}, stderr not a terminal. */
  static Result admin(Harness h, String... args) {
    return run(Map.of("PULLMESH_ADMIN_URL", h.url()), false, prepend("admin", args));
  }

  private static String[] prepend(String first, String... rest) {
    String[] all = new String[rest.length + 1];
    all[0] = first;
    System.arraycopy(rest, 0, all, 1, rest.length);
    return all;
  }

  private static Result ok(Result r) {
    assertEquals(0, r.exit(), r.toString());
    return r;
  }

  private FakeModel tiny() {
    return ModelFixture.tiny().create(dir.resolve("model"));
  }

  private void pull(Harness h, String name, String dest) throws Exception {
    try (OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
      client.pull(h.url(), name, dir.resolve(dest));
    }
    h.awaitIdle();
  }

  /** Waits until no response holds a blob (leases end a moment after the client has its bytes). */
  private static void settle(Harness h) throws InterruptedException {
    Waits.awaitTrue(() -> h.proxy.store().blobs().stream().noneMatch(b -> h.proxy.space().inUse(b.digest())), DEADLINE,
        () -> "no blob in use");
  }

  // ------------------------------------------------------------------ usage

  @Test
  void helpListsTheCommandsAndBadUsageExits2() {
    Result top = ok(run(Map.of(), false, "--help"));
    assertTrue(top.out().contains("admin <command>") && top.out().contains("verify [--cache-dir DIR]"), top.out());
    Result help = ok(run(Map.of(), false, "admin", "--help"));
    for (String c : List.of("stats", "models", "blobs", "downloads", "pins", "aliases", "pin NAME", "unpin NAME",
        "evict NAME|sha256:DIGEST", "refresh NAME", "prefetch NAME...", "alias NAME TARGET", "unalias NAME", "verify",
        "--url URL", "--token TOKEN", "--json", "PULLMESH_ADMIN_URL", "PULLMESH_ADMIN_TOKEN", "Exit codes")) {
      assertTrue(help.out().contains(c), "admin --help names '" + c + "'\n" + help.out());
    }
    assertTrue(ok(run(Map.of(), false, "verify", "--help")).out().contains("--cache-dir DIR"));

    Map<String[], String> bad = Map.of(
        new String[] {"admin"}, "which command?",
        new String[] {"admin", "frobnicate"}, "unknown command 'frobnicate'",
        new String[] {"admin", "pin"}, "pin takes one argument, got 0 (usage: admin pin NAME)",
        new String[] {"admin", "alias", "a"}, "alias takes 2 arguments, got 1",
        new String[] {"admin", "stats", "extra"}, "stats takes no arguments",
        new String[] {"admin", "prefetch"}, "prefetch needs at least one NAME",
        new String[] {"admin", "stats", "--verbose"}, "unknown option --verbose",
        new String[] {"admin", "stats", "--url", "ftp://host"}, "--url 'ftp://host' is not valid");
    for (Map.Entry<String[], String> b : bad.entrySet()) {
      Result r = run(Map.of(), false, b.getKey());
      assertEquals(2, r.exit(), String.join(" ", b.getKey()) + "\n" + r);
      assertTrue(r.err().startsWith("pullmesh admin: ") && r.err().contains(b.getValue()), String.join(" ", b.getKey()) + "\n" + r);
      assertEquals("", r.out());
    }
  }

  @Test
  void aRefusedConnectionNamesTheUrlAndSuggestsUrl() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      port = s.getLocalPort();
    }
    String url = "http://127.0.0.1:" + port;
    Result r = run(Map.of(), false, "admin", "stats", "--url", url);
    assertEquals(2, r.exit(), r.toString());
    assertTrue(r.err().startsWith("pullmesh admin: cannot connect to " + url + " ("), r.err());
    assertTrue(r.err().toLowerCase(java.util.Locale.ROOT).contains("connection refused"), r.err());
    assertTrue(r.err().contains("Point at it with --url URL or PULLMESH_ADMIN_URL"), r.err());
    assertEquals("", r.out());
  }

  @Test
  void somethingThatIsNotPullmeshIsReportedAsSuch() throws Exception {
    FakeModel model = tiny();
    try (FakeRegistry notAProxy = FakeRegistry.start(model)) {
      Result r = run(Map.of(), false, "admin", "stats", "--url", notAProxy.registryUrl());
      assertTrue(r.exit() != 0, r.toString());
      assertTrue(r.err().startsWith("pullmesh admin: "), r.toString());
    }
  }

  // ------------------------------------------------------------------ reads

  @Test
  void readCommandsPrintTablesAndJson() throws Exception {
    FakeModel model = tiny();
    try (Harness h = Harness.start(dir, model)) {
      Result empty = ok(admin(h, "models"));
      assertEquals("no models in the cache\n", empty.out());
      assertEquals("no blobs in the cache\n", ok(admin(h, "blobs")).out());
      assertEquals("no downloads in progress\n", ok(admin(h, "downloads")).out());
      assertEquals("no pinned models\n", ok(admin(h, "pins")).out());
      assertEquals("no aliases\n", ok(admin(h, "aliases")).out());

      pull(h, model.reference(), "ollama");
      settle(h);

      Result stats = ok(admin(h, "stats"));
      assertTrue(stats.out().contains("cache      " + h.proxy.store().root()), stats.out());
      assertTrue(stats.out().contains(Bytes.human(model.totalBytes()) + " in " + model.blobs().size() + " blobs"), stats.out());
      assertTrue(stats.out().contains("downloads  0 active"), stats.out());
      assertTrue(stats.out().contains("1 tag, 1 manifest, 0 pinned, 0 aliases"), stats.out());
      assertTrue(Pattern.compile("(?m)^disk +[0-9.]+ [KMGT]iB free of [0-9.]+ [KMGT]iB$").matcher(stats.out()).find(), stats.out());
      assertEquals("", stats.err());

      Result models = ok(admin(h, "models"));
      List<String> lines = models.out().lines().toList();
      assertEquals(2, lines.size(), models.out());
      assertTrue(lines.get(0).startsWith("NAME ") && lines.get(0).contains("LAST ACCESS") && lines.get(0).contains("PINNED"), lines.get(0));
      assertTrue(lines.get(1).startsWith("library/tiny:latest  "), lines.get(1));
      assertTrue(lines.get(1).contains(Bytes.human(model.totalBytes())) && lines.get(1).contains(" all ")
          && lines.get(1).contains(" no ") && lines.get(1).contains("just now") && lines.get(1).contains(model.manifestDigest().toString().substring(0, 19)),
          lines.get(1));
      assertEquals(lines.get(0).indexOf("PINNED"), lines.get(1).indexOf(" no ") + 1, "aligned:\n" + models.out());

      Result blobs = ok(admin(h, "blobs"));
      assertEquals(model.blobs().size() + 1, blobs.out().lines().count(), blobs.out());
      for (FakeBlob b : model.blobs()) {
        assertTrue(blobs.out().contains(b.digest().toString().substring(0, 19) + "  "), blobs.out());
      }
      assertTrue(blobs.out().contains("library/tiny:latest"), blobs.out());

      JsonArray modelsJson = new JsonArray(ok(admin(h, "models", "--json")).out());
      assertEquals(1, modelsJson.size());
      assertEquals(model.manifestDigest().toString(), modelsJson.getJsonObject(0).getString("digest"));
      JsonObject statsJson = new JsonObject(ok(admin(h, "--json", "stats")).out());
      assertEquals(model.blobs().size(), statsJson.getJsonObject("cache").getInteger("blobs"));
      assertEquals(model.blobs().size(), new JsonArray(ok(admin(h, "blobs", "--json")).out()).size());
      assertEquals(0, new JsonArray(ok(admin(h, "pins", "--json")).out()).size());
    }
  }

  @Test
  void downloadsShowsProgressRateAndSourceOfAPullInFlight() throws Exception {
    FakeModel model = ModelFixture.of("library/slow", "latest").layer(MediaTypes.MODEL, 4L << 20).create(dir.resolve("model"));
    FakeBlob layer = model.largestLayer();
    FakeRegistry upstream = FakeRegistry.builder().cdnBytesPerSecond(256 << 10).start().addModel(model);
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(2), upstream)) {
      String url = h.blobUrl(model, layer.digest());
      CompletableFuture<RawResponse> get = CompletableFuture.supplyAsync(() -> RawHttp.request("GET", url, Map.of(), Duration.ofSeconds(60)));
      AdminHttp api = new AdminHttp(h.url());
      api.await("stats", s -> s.getJsonObject("downloads").getInteger("active") > 0, DEADLINE);
      Waits.awaitTrue(() -> api.list("downloads").stream().anyMatch(d -> ((JsonObject) d).getLong("rateBytesPerSecond") > 0), DEADLINE,
          () -> "a download has a rate");
      Result r = ok(admin(h, "downloads"));
      List<String> lines = r.out().lines().toList();
      assertEquals(2, lines.size(), r.out());
      assertTrue(lines.get(0).contains("PROGRESS") && lines.get(0).contains("RATE") && lines.get(0).contains("SOURCE"), r.out());
      String row = lines.get(1);
      assertTrue(row.startsWith(layer.digest().toString().substring(0, 19)), row);
      assertTrue(row.contains("library/slow") && row.contains("fetching") && row.contains(" / 4.0 MiB") && row.contains("/s"), row);
      assertTrue(Pattern.compile(" \\d{1,2}%  ").matcher(row).find(), "a percentage: " + row);
      assertTrue(row.contains(java.net.URI.create(upstream.cdnUrl()).getHost()), "the source: " + row);

      upstream.setCdnBytesPerSecond(0);
      assertEquals(200, get.get(60, TimeUnit.SECONDS).status());
    }
  }

  // ------------------------------------------------------------------ changes

  @Test
  void pinUnpinEvictRefreshAliasAndUnalias() throws Exception {
    FakeModel model = tiny();
    try (Harness h = Harness.start(dir, model)) {
      pull(h, model.reference(), "ollama");
      settle(h);

      assertEquals("pinned library/tiny:latest\n", ok(admin(h, "pin", "tiny")).out());
      assertTrue(ok(admin(h, "pins")).out().contains("library/tiny:latest  just now"), admin(h, "pins").out());
      assertTrue(ok(admin(h, "models")).out().lines().skip(1).findFirst().orElseThrow().contains(" yes "));
      Result refused = admin(h, "evict", "tiny");
      assertEquals(1, refused.exit(), refused.toString());
      assertTrue(refused.err().startsWith("pullmesh admin: 409 DENIED: library/tiny:latest: blob "), refused.err());
      assertTrue(refused.err().contains("nothing was evicted"), refused.err());
      assertEquals(model.blobs().size(), h.proxy.store().committedBlobs());

      assertEquals("unpinned library/tiny:latest\n", ok(admin(h, "unpin", "library/tiny:latest")).out());
      Result again = admin(h, "unpin", "tiny");
      assertEquals(1, again.exit(), again.toString());
      assertEquals("pullmesh admin: 404 NOT_FOUND: library/tiny:latest is not pinned\n", again.err());

      FakeBlob config = model.config();
      Result one = ok(admin(h, "evict", config.digest().toString()));
      assertEquals("evicted 1 blob, freed " + Bytes.human(config.size()) + "\n  " + config.digest() + "\n", one.out());
      assertFalse(Files.exists(h.proxy.store().blobPath(config.digest())));
      Result rest = ok(admin(h, "evict", "tiny:latest"));
      assertTrue(rest.out().startsWith("evicted " + (model.blobs().size() - 1) + " blobs, freed "
          + Bytes.human(model.totalBytes() - config.size()) + "\n"), rest.out());
      assertEquals("nothing to evict: none of its blobs is in the cache\n", ok(admin(h, "evict", "tiny")).out());
      Result unknownBlob = admin(h, "evict", config.digest().toString());
      assertEquals(1, unknownBlob.exit());
      assertTrue(unknownBlob.err().contains("404 BLOB_UNKNOWN"), unknownBlob.err());

      assertEquals("library/tiny:latest: unchanged, " + model.manifestDigest() + "\n", ok(admin(h, "refresh", "tiny")).out());
      FakeModel v2 = model.nextVersion();
      h.upstream.addModel(v2);
      assertEquals("library/tiny:latest: changed upstream, " + model.manifestDigest() + " -> " + v2.manifestDigest() + "\n",
          ok(admin(h, "refresh", "tiny")).out());
      JsonObject refreshJson = new JsonObject(ok(admin(h, "refresh", "tiny", "--json")).out());
      assertFalse(refreshJson.getBoolean("changed"));

      assertEquals("alias team/default:latest -> library/tiny:latest\n", ok(admin(h, "alias", "team/default", "tiny")).out());
      Result aliases = ok(admin(h, "aliases"));
      assertTrue(aliases.out().startsWith("NAME "), aliases.out());
      assertTrue(aliases.out().contains("team/default:latest  library/tiny:latest  just now"), aliases.out());
      assertEquals(200, RawHttp.get(h.url() + "/v2/team/default/manifests/latest").status());
      assertEquals("removed alias team/default:latest\n", ok(admin(h, "unalias", "team/default")).out());
      Result noAlias = admin(h, "unalias", "team/default");
      assertEquals(1, noAlias.exit());
      assertEquals("pullmesh admin: 404 NOT_FOUND: no alias team/default:latest\n", noAlias.err());
    }
  }

  @Test
  void badInputIsRefusedWithTheServersMessageAndExit2() throws Exception {
    FakeModel model = tiny();
    try (Harness h = Harness.start(dir, model)) {
      String digest = model.config().digest().toString();
      Result r = admin(h, "pin", digest);
      assertEquals(2, r.exit(), r.toString());
      assertTrue(r.err().startsWith("pullmesh admin: 400 NAME_INVALID: name \"" + digest + "\": expected name:tag, got a digest"), r.err());
      Result dots = admin(h, "alias", "team/x", "../etc");
      assertEquals(2, dots.exit(), dots.toString());
      assertTrue(dots.err().startsWith("pullmesh admin: 400 NAME_INVALID: alias team/x -> ../etc: "), dots.err());
      Result badDigest = admin(h, "evict", "sha256:abc");
      assertEquals(2, badDigest.exit(), badDigest.toString());
      assertTrue(badDigest.err().contains("400 NAME_INVALID") && badDigest.err().contains("sha256:abc"), badDigest.err());
      assertEquals("no pinned models\n", ok(admin(h, "pins")).out());
      assertEquals("no aliases\n", ok(admin(h, "aliases")).out());
    }
  }

  @Test
  void aWrongOrMissingTokenIs401WithTheServersMessage() throws Exception {
    FakeModel model = tiny();
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(16), FakeRegistry.start(model), "--admin-token", TOKEN)) {
      Result none = admin(h, "pin", "tiny");
      assertEquals(2, none.exit(), none.toString());
      assertEquals("pullmesh admin: 401 UNAUTHORIZED: this change needs Authorization: Bearer <admin token> (see --admin-token)\n", none.err());
      Result wrong = admin(h, "pin", "tiny", "--token", "wrong-token-0123456789");
      assertEquals(2, wrong.exit(), wrong.toString());
      assertTrue(wrong.err().startsWith("pullmesh admin: 401 UNAUTHORIZED: this change needs Authorization: Bearer"), wrong.err());
      assertEquals("no pinned models\n", ok(admin(h, "pins")).out(), "reads need no token; nothing was pinned");

      assertEquals("pinned library/tiny:latest (not in the cache yet: prefetch it to fetch it now)\n",
          ok(admin(h, "pin", "tiny", "--token", TOKEN)).out());
      Map<String, String> env = new HashMap<>();
      env.put("PULLMESH_ADMIN_URL", h.url());
      env.put("PULLMESH_ADMIN_TOKEN", TOKEN);
      assertEquals("unpinned library/tiny:latest\n", ok(run(env, false, "admin", "unpin", "tiny")).out());
    }
  }

  // ------------------------------------------------------------------ long work

  @Test
  void prefetchShowsProgressThenReportsEachModel() throws Exception {
    FakeModel model = tiny();
    FakeModel other = ModelFixture.of("library/other", "1b").layer(MediaTypes.MODEL, 1L << 20).seed(7).create(dir.resolve("other"));
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(16), FakeRegistry.start(model, other))) {
      Result r = ok(admin(h, "prefetch", "tiny"));
      assertTrue(r.out().startsWith("done    library/tiny:latest  " + Bytes.human(model.totalBytes()) + " in "
          + model.blobs().size() + " blobs, "), r.out());
      assertFalse(r.err().contains("\r"), "plain lines when stderr is not a terminal: " + r.err());
      List<String> progress = r.err().lines().toList();
      assertFalse(progress.isEmpty(), r.toString());
      String last = progress.get(progress.size() - 1);
      assertTrue(last.startsWith("library/tiny:latest  [========================]  100%  " + Bytes.human(model.totalBytes()) + " / "
          + Bytes.human(model.totalBytes())), last);
      for (FakeBlob b : model.blobs()) {
        assertTrue(h.proxy.store().lookup(b.digest()).isPresent(), "committed: " + b.digest());
      }

      // two at once, on a terminal: one bar redrawn in place, labelled with how many are done
      Result both = run(Map.of("PULLMESH_ADMIN_URL", h.url()), true, "admin", "prefetch", "other:1b", "tiny");
      assertEquals(0, both.exit(), both.toString());
      assertTrue(both.err().startsWith("\r"), both.err());
      assertTrue(both.err().contains("2/2 models  [========================]  100%"), both.err());
      assertTrue(both.err().endsWith("\n"), "the final bar stays: " + both.err());
      assertTrue(both.out().contains("done    library/other:1b  ") && both.out().contains("done    library/tiny:latest  "), both.out());

      Result json = ok(admin(h, "prefetch", "tiny", "--json"));
      JsonArray jobs = new JsonArray(json.out());
      assertEquals(1, jobs.size());
      assertEquals("done", jobs.getJsonObject(0).getString("state"));

      Result missing = admin(h, "prefetch", "library/nosuch:latest");
      assertEquals(1, missing.exit(), missing.toString());
      assertTrue(missing.out().startsWith("failed  library/nosuch:latest: "), missing.out());

      String digest = model.config().digest().toString();
      Result mixed = admin(h, "prefetch", digest, "tiny");
      assertEquals(2, mixed.exit(), mixed.toString());
      assertTrue(mixed.err().contains("pullmesh admin: prefetch " + digest + ": 400 NAME_INVALID"), mixed.err());
      assertTrue(mixed.out().contains("done    library/tiny:latest"), "the good name is still fetched: " + mixed);
    }
  }

  @Test
  void aSlowPrefetchShowsItsRateAndTimeLeft() throws Exception {
    FakeModel model = ModelFixture.of("library/slow", "latest").layer(MediaTypes.MODEL, 3L << 20).create(dir.resolve("model"));
    // 2 connections of 1 MiB/s: about 1.5 s, several polls of 250 ms
    FakeRegistry upstream = FakeRegistry.builder().cdnBytesPerSecond(1L << 20).start().addModel(model);
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(2), upstream)) {
      Result r = run(Map.of("PULLMESH_ADMIN_URL", h.url()), true, "admin", "prefetch", "slow");
      assertEquals(0, r.exit(), r.toString());
      List<String> draws = new ArrayList<>(List.of(r.err().split("\r")));
      draws.removeIf(String::isBlank);
      assertTrue(draws.size() >= 2, "redrawn as the bytes come: " + r.err());
      assertTrue(draws.stream().anyMatch(d -> Pattern.compile("\\] +\\d{1,2}%  [0-9.]+ [KM]iB / 3\\.0 MiB  [0-9.]+ [KM]iB/s  ETA \\d+s").matcher(d).find()),
          "a draw mid-way with a rate and the time left: " + draws);
      assertTrue(draws.get(draws.size() - 1).contains("100%  3.0 MiB / 3.0 MiB"), draws.toString());
    }
  }

  @Test
  void verifyShowsProgressAndReportsACorruptBlob() throws Exception {
    FakeModel model = tiny();
    try (Harness h = Harness.start(dir, model)) {
      pull(h, model.reference(), "ollama");
      settle(h);
      FakeBlob victim = model.largestLayer();
      AdminApiTest.corrupt(h.proxy.store().blobPath(victim.digest()));

      Result r = admin(h, "verify");
      assertEquals(1, r.exit(), r.toString());
      assertEquals("checked " + model.blobs().size() + " blobs (" + Bytes.human(model.totalBytes()) + "): 1 corrupt, moved to "
          + "quarantine/ in the cache directory\n  corrupt     " + victim.digest() + "\n", r.out());
      assertTrue(r.err().contains("verify " + model.blobs().size() + "/" + model.blobs().size() + " blobs  [========================]  100%"), r.err());
      assertTrue(Files.exists(h.cacheDir.resolve("quarantine").resolve("sha256-" + victim.digest().hex())));

      Result clean = ok(admin(h, "verify"));
      assertEquals("checked " + (model.blobs().size() - 1) + " blobs (" + Bytes.human(model.totalBytes() - victim.size())
          + "): all match their digests\n", clean.out());
      JsonObject json = new JsonObject(ok(admin(h, "verify", "--json")).out());
      assertEquals("done", json.getString("state"));
      assertEquals(0, json.getJsonArray("corrupt").size());
    }
  }

  // ------------------------------------------------------------------ offline verify

  @Test
  void offlineVerifyQuarantinesACorruptBlobOfAStoppedCache() throws Exception {
    FakeModel model = tiny();
    Path cache;
    FakeBlob victim = model.largestLayer();
    Path file;
    try (Harness h = Harness.start(dir, model)) {
      pull(h, model.reference(), "ollama");
      cache = h.cacheDir;
      file = h.proxy.store().blobPath(victim.digest());

      Result locked = run(Map.of(), false, "verify", "--cache-dir", cache.toString());
      assertEquals(2, locked.exit(), locked.toString());
      assertEquals("pullmesh verify: " + cache.toAbsolutePath() + " is in use by a running proxy: stop it first, or verify "
          + "through it with `admin verify`\n", locked.err());
    }
    AdminApiTest.corrupt(file);

    Result r = run(Map.of(), false, "verify", "--cache-dir=" + cache);
    assertEquals(1, r.exit(), r.toString());
    Path quarantined = cache.toAbsolutePath().resolve("quarantine").resolve("sha256-" + victim.digest().hex());
    assertEquals("checked " + model.blobs().size() + " blobs (" + Bytes.human(model.totalBytes()) + "): 1 corrupt, moved to "
        + cache.toAbsolutePath().resolve("quarantine") + "/\n  corrupt     " + victim.digest() + "\n", r.out());
    assertTrue(r.err().contains("100%"), r.err());
    assertTrue(Files.exists(quarantined));
    assertFalse(Files.exists(file));

    Result again = run(Map.of("PULLMESH_CACHE_DIR", cache.toString()), false, "verify");
    assertEquals(0, again.exit(), again.toString());
    assertTrue(again.out().endsWith("all match their digests\n"), again.out());

    Result nothing = run(Map.of(), false, "verify", "--cache-dir", dir.resolve("nowhere").toString());
    assertEquals(2, nothing.exit(), nothing.toString());
    assertTrue(nothing.err().startsWith("pullmesh verify: no pullmesh cache at "), nothing.err());
    assertFalse(Files.exists(dir.resolve("nowhere")), "verify never creates a cache");
    Result bad = run(Map.of(), false, "verify", "--bogus");
    assertEquals(2, bad.exit(), bad.toString());
    assertTrue(bad.err().contains("unexpected argument '--bogus'"), bad.err());
  }
}
