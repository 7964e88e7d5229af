package io.pullmesh.proxy;

import static io.pullmesh.proxy.AdminHttp.assertError;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Digest;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin API over HTTP against an in-process proxy and a fake upstream: every read and every change with
 * real data (a pulled model), and every way a call is refused (no or wrong token, bad input, unknown path, wrong
 * method) without anything being changed.
 */
class AdminApiTest {
  private static final Duration DEADLINE = Duration.ofSeconds(30);
  private static final String TOKEN = "0123456789abcdef-test-token";

  @TempDir Path dir;

  private FakeModel tiny() {
    return ModelFixture.tiny().create(dir.resolve("model"));
  }

  private void pull(Harness h, String name, String dest) throws Exception {
    try (OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
      client.pull(h.url(), name, dir.resolve(dest));
    }
  }

  /** Waits until downloads are committed and no response holds a blob any more (so eviction may take them). */
  private void settle(Harness h, AdminHttp api) throws InterruptedException {
    h.awaitIdle();
    Waits.awaitValue(() -> api.list("blobs"), blobs -> blobs.stream().noneMatch(b -> ((JsonObject) b).getBoolean("inUse")), DEADLINE,
        blobs -> "no blob in use: " + blobs.encode());
  }

  private static Set<String> digests(FakeModel model) {
    Set<String> out = new HashSet<>();
    for (FakeBlob b : model.blobs()) {
      out.add(b.digest().toString());
    }
    return out;
  }

  private static Set<String> field(JsonArray a, String name) {
    Set<String> out = new HashSet<>();
    for (int i = 0; i < a.size(); i++) {
      out.add(a.getJsonObject(i).getString(name));
    }
    return out;
  }

  private static JsonObject name(String n) {
    return new JsonObject().put("name", n);
  }

  // ------------------------------------------------------------------ reads

  @Test
  void statsModelsAndBlobsDescribeAPulledModel() throws Exception {
    FakeModel model = tiny();
    try (Harness h = Harness.start(dir, model)) {
      AdminHttp api = new AdminHttp(h.url());
      JsonObject empty = api.object("stats");
      assertEquals(0, empty.getJsonObject("cache").getLong("blobs"));
      assertEquals(0, api.list("models").size());
      assertEquals(0, api.list("blobs").size());

      pull(h, model.reference(), "ollama1");
      settle(h, api);
      pull(h, model.reference(), "ollama2"); // a warm pull: hits
      settle(h, api);

      JsonObject stats = api.object("stats");
      JsonObject cache = stats.getJsonObject("cache");
      assertEquals(h.proxy.store().root().toString(), cache.getString("path"));
      assertEquals(model.blobs().size(), cache.getLong("blobs"));
      assertEquals(model.totalBytes(), cache.getLong("bytes"));
      assertTrue(cache.getLong("limitBytes") > 0, stats.encode());
      assertEquals(0, cache.getLong("reservedBytes"));
      assertTrue(stats.getJsonObject("disk").getLong("totalBytes") >= stats.getJsonObject("disk").getLong("freeBytes"));
      assertEquals(0, stats.getJsonObject("downloads").getInteger("active"));
      JsonObject catalog = stats.getJsonObject("catalog");
      assertEquals(1, catalog.getInteger("tags"));
      assertEquals(1, catalog.getInteger("manifests"));
      assertEquals(0, catalog.getInteger("pins"));
      JsonObject traffic = stats.getJsonObject("traffic");
      assertTrue(traffic.getLong("servedBytes") >= 2 * model.totalBytes(), stats.encode());
      assertTrue(traffic.getLong("upstreamBytes") >= model.totalBytes(), stats.encode());
      assertTrue(traffic.getLong("savedBytes") >= model.totalBytes() - 16, stats.encode());
      double byteRatio = traffic.getDouble("byteHitRatio");
      // served bytes count what was written, including bodies clients dropped (Ollama's URL-resolution GET): so at
      // least half of what was served did not come from upstream, and the ratio is the stats' own arithmetic
      double served = traffic.getLong("servedBytes");
      assertEquals((served - traffic.getLong("upstreamBytes")) / served, byteRatio, 1e-9);
      assertTrue(byteRatio >= 0.45 && byteRatio < 1, "one cold and one warm pull: at least half the bytes came from the cache: " + byteRatio);
      JsonObject requests = traffic.getJsonObject("blobRequests");
      assertTrue(requests.getLong("hit") >= model.blobs().size(), "the warm pull's requests were hits: " + requests);
      assertEquals(model.blobs().size(), requests.getLong("miss"), "one miss per blob: " + requests);
      double all = requests.getLong("hit") + requests.getLong("inflight") + requests.getLong("miss");
      assertEquals(requests.getLong("hit") / all, traffic.getDouble("hitRatio"), 1e-9);

      // the warm pull's hits are recorded in the background: poll
      JsonObject m = awaitModel(api, o -> o.getLong("hits") >= 1);
      assertEquals("library/tiny:latest", m.getString("name"));
      assertEquals(model.manifestDigest().toString(), m.getString("digest"));
      assertEquals(model.totalBytes(), m.getLong("sizeBytes"));
      assertEquals(model.totalBytes(), m.getLong("cachedBytes"));
      assertTrue(m.getBoolean("complete"));
      assertFalse(m.getBoolean("pinned"));
      assertFalse(m.getBoolean("revalidationDue"), "checked moments ago, TTL 5 min");
      assertNotNull(m.getLong("lastAccess"));
      assertTrue(m.getLong("checkedAt") > 0);
      assertEquals(1, m.getJsonArray("history").size());

      JsonArray blobs = api.list("blobs");
      assertEquals(digests(model), field(blobs, "digest"));
      for (int i = 0; i < blobs.size(); i++) {
        JsonObject b = blobs.getJsonObject(i);
        FakeBlob fb = model.blob(Digest.parse(b.getString("digest"))).orElseThrow();
        assertEquals(fb.size(), b.getLong("sizeBytes"));
        assertFalse(b.getBoolean("pinned"));
        assertFalse(b.getBoolean("inUse"));
        assertEquals(new JsonArray().add("library/tiny:latest"), b.getJsonArray("models"));
        assertTrue(b.getLong("createdAt") > 0);
      }
    }
  }

  private JsonObject awaitModel(AdminHttp api, java.util.function.Predicate<JsonObject> ok) throws InterruptedException {
    return Waits.awaitValue(() -> api.list("models"), models -> models.size() == 1 && ok.test(models.getJsonObject(0)), DEADLINE,
        models -> "models matched: " + models.encode()).getJsonObject(0);
  }

  @Test
  void downloadsShowsAnInFlightDownloadWithProgressRateAndSource() throws Exception {
    FakeModel model = ModelFixture.of("library/slow", "latest").layer(MediaTypes.MODEL, 4L << 20).create(dir.resolve("model"));
    FakeBlob layer = model.largestLayer();
    // 2 connections of 256 KiB/s: several seconds for the layer, long enough to watch it
    FakeRegistry upstream = FakeRegistry.builder().cdnBytesPerSecond(256 << 10).start().addModel(model);
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(2), upstream)) {
      AdminHttp api = new AdminHttp(h.url());
      assertEquals(0, api.list("downloads").size());
      String url = h.blobUrl(model, layer.digest());
      CompletableFuture<RawResponse> get = CompletableFuture.supplyAsync(() -> RawHttp.request("GET", url, Map.of(), Duration.ofSeconds(60)));

      JsonObject d = Waits.awaitValue(() -> api.list("downloads").stream().map(o -> (JsonObject) o)
          .filter(x -> x.getString("digest").equals(layer.digest().toString()) && x.getLong("doneBytes") > 0
              && x.getLong("rateBytesPerSecond") > 0)
          .reduce((first, later) -> later).orElse(null), java.util.Objects::nonNull, DEADLINE, x -> "a download with progress and a rate");
      assertEquals("library/slow", d.getString("repository"));
      assertEquals("fetching", d.getString("state"));
      assertEquals(layer.size(), d.getLong("sizeBytes"));
      assertTrue(d.getLong("doneBytes") < layer.size(), d.encode());
      double progress = d.getDouble("progress");
      assertTrue(progress > 0 && progress < 1, d.encode());
      assertEquals(java.net.URI.create(upstream.cdnUrl()).getHost(), d.getString("source"), "the CDN's host: " + d.encode());
      assertTrue(d.getInteger("connections") >= 1, d.encode());
      assertEquals(1, d.getInteger("readers"), d.encode());
      assertTrue(d.getLong("startedAt") > 0);
      assertTrue(api.object("stats").getJsonObject("downloads").getInteger("active") >= 1);

      // a blob being downloaded cannot be evicted, and asking changes nothing
      assertError(api.post("evict", new JsonObject().put("digest", layer.digest().toString())), 409, "DENIED", "is being downloaded; nothing was evicted");

      upstream.setCdnBytesPerSecond(0);
      RawResponse r = get.get(60, TimeUnit.SECONDS);
      assertEquals(200, r.status());
      assertArrayEquals(Files.readAllBytes(layer.file()), r.body());
      h.awaitIdle();
      assertEquals(0, api.list("downloads").size());
    }
  }

  // ------------------------------------------------------------------ pin, unpin, evict

  @Test
  void pinProtectsAModelFromEvictionUntilUnpinned() throws Exception {
    FakeModel model = tiny();
    try (Harness h = Harness.start(dir, model)) {
      AdminHttp api = new AdminHttp(h.url());
      pull(h, model.reference(), "ollama");
      settle(h, api);

      JsonObject pinned = api.ok(200, "pin", name("tiny"));
      assertEquals("library/tiny:latest", pinned.getString("pinned"));
      assertTrue(pinned.getBoolean("cached"));
      JsonArray pins = api.list("pins");
      assertEquals(1, pins.size());
      assertEquals("library/tiny:latest", pins.getJsonObject(0).getString("name"));
      assertTrue(pins.getJsonObject(0).getLong("pinnedAt") > 0);
      assertTrue(api.list("models").getJsonObject(0).getBoolean("pinned"));
      for (Object b : api.list("blobs")) {
        assertTrue(((JsonObject) b).getBoolean("pinned"), b.toString());
      }
      assertEquals(1, api.object("stats").getJsonObject("catalog").getInteger("pins"));

      // refused as a whole: not one blob goes
      assertError(api.post("evict", name("library/tiny:latest")), 409, "DENIED", "is pinned (unpin its model first); nothing was evicted");
      assertError(api.post("evict", new JsonObject().put("digest", model.config().digest().toString())), 409, "DENIED", "is pinned");
      assertEquals(model.blobs().size(), h.proxy.store().committedBlobs());
      for (FakeBlob b : model.blobs()) {
        assertTrue(Files.exists(h.proxy.store().blobPath(b.digest())), b.digest().toString());
      }

      JsonObject unpinned = api.ok(200, "unpin", name("tiny:latest"));
      assertEquals("library/tiny:latest", unpinned.getString("unpinned"));
      assertEquals(0, api.list("pins").size());
      assertFalse(api.list("models").getJsonObject(0).getBoolean("pinned"));
      assertError(api.post("unpin", name("tiny")), 404, "NOT_FOUND", "library/tiny:latest is not pinned");

      JsonObject evicted = api.ok(200, "evict", name("tiny"));
      assertEquals(model.blobs().size(), evicted.getJsonArray("evicted").size());
      assertEquals(model.totalBytes(), evicted.getLong("freedBytes"));
    }
  }

  @Test
  void pinningAModelNotCachedYetSaysSo() throws Exception {
    try (Harness h = Harness.start(dir, tiny())) {
      AdminHttp api = new AdminHttp(h.url());
      JsonObject r = api.ok(200, "pin", name("library/other:7b"));
      assertEquals("library/other:7b", r.getString("pinned"));
      assertFalse(r.getBoolean("cached"));
      assertTrue(r.getString("note").contains("prefetch"), r.encode());
      assertEquals(Set.of("library/other:7b"), field(api.list("pins"), "name"));
    }
  }

  @Test
  void evictByDigestAndByNameDeletesTheFilesAndALaterPullFetchesThemAgain() throws Exception {
    FakeModel model = tiny();
    try (Harness h = Harness.start(dir, model)) {
      AdminHttp api = new AdminHttp(h.url());
      pull(h, model.reference(), "ollama1");
      settle(h, api);
      long upstreamBefore = h.upstream.stats().blobBytes();

      FakeBlob layer = model.largestLayer();
      Path file = h.proxy.store().blobPath(layer.digest());
      assertTrue(Files.exists(file));
      JsonObject one = api.ok(200, "evict", new JsonObject().put("digest", layer.digest().toString()));
      assertEquals(new JsonArray().add(layer.digest().toString()), one.getJsonArray("evicted"));
      assertEquals(layer.size(), one.getLong("freedBytes"));
      assertFalse(Files.exists(file), "the file is gone");
      assertFalse(field(api.list("blobs"), "digest").contains(layer.digest().toString()));
      assertEquals(model.totalBytes() - layer.size(), api.list("models").getJsonObject(0).getLong("cachedBytes"));
      assertFalse(api.list("models").getJsonObject(0).getBoolean("complete"));
      assertError(api.post("evict", new JsonObject().put("digest", layer.digest().toString())), 404, "BLOB_UNKNOWN", "not in the cache");

      JsonObject rest = api.ok(200, "evict", name("tiny:latest"));
      assertEquals(model.blobs().size() - 1, rest.getJsonArray("evicted").size());
      assertEquals(model.totalBytes() - layer.size(), rest.getLong("freedBytes"));
      for (FakeBlob b : model.blobs()) {
        assertFalse(Files.exists(h.proxy.store().blobPath(b.digest())), b.digest() + " is gone");
      }
      assertEquals(0, h.proxy.store().committedBlobs());
      assertEquals(0, api.object("stats").getJsonObject("cache").getLong("bytes"));
      assertTrue(api.object("stats").getJsonObject("cache").getLong("evictions") >= model.blobs().size());
      assertError(api.post("evict", name("library/never-pulled:latest")), 404, "NOT_FOUND", "not in the cache");

      pull(h, model.reference(), "ollama2");
      MirrorPullTest.assertSameBlobs(model, dir.resolve("ollama2"));
      h.awaitIdle();
      assertTrue(h.upstream.stats().blobBytes() - upstreamBefore >= model.totalBytes(), "the evicted blobs were fetched again");
      assertEquals(model.blobs().size(), h.proxy.store().committedBlobs());
    }
  }

  @Test
  void evictingAModelByNameKeepsTheLayersAnotherCachedModelUses() throws Exception {
    // same seed, same first layer: the two models share their weights blob, as fine-tunes of one base often do
    FakeModel a = ModelFixture.of("library/a", "latest").seed(7).layer(MediaTypes.MODEL, 1 << 20).create(dir.resolve("a"));
    FakeModel b = ModelFixture.of("library/b", "latest").seed(7).layer(MediaTypes.MODEL, 1 << 20).layer(MediaTypes.TEMPLATE, 311)
        .create(dir.resolve("b"));
    Digest shared = a.largestLayer().digest();
    assertEquals(shared, b.largestLayer().digest(), "the fixture shares the layer");
    try (Harness h = Harness.start(dir, a, b)) {
      AdminHttp api = new AdminHttp(h.url());
      pull(h, a.reference(), "ollama-a");
      pull(h, b.reference(), "ollama-b");
      settle(h, api);
      JsonObject r = api.ok(200, "evict", name("library/a:latest"));
      assertEquals(new JsonArray().add(a.config().digest().toString()), r.getJsonArray("evicted"), r.encode());
      assertEquals(new JsonArray().add(shared.toString()), r.getJsonArray("keptShared"), r.encode());
      assertTrue(Files.exists(h.proxy.store().blobPath(shared)), "b's layer is still cached");
      long upstream = h.upstream.stats().blobBytes();
      pull(h, b.reference(), "ollama-b2");
      MirrorPullTest.assertSameBlobs(b, dir.resolve("ollama-b2"));
      assertEquals(upstream, h.upstream.stats().blobBytes(), "b is still whole in the cache");
    }
  }

  @Test
  void pinningAnAliasProtectsTheModelItServes() throws Exception {
    FakeModel model = tiny();
    try (Harness h = Harness.start(dir, model)) {
      AdminHttp api = new AdminHttp(h.url());
      api.ok(200, "alias", new JsonObject().put("name", "team/default:latest").put("target", "library/tiny:latest"));
      pull(h, "team/default:latest", "ollama");
      settle(h, api);
      api.ok(200, "pin", name("team/default:latest"));
      assertError(api.post("evict", new JsonObject().put("digest", model.largestLayer().digest().toString())), 409, "DENIED", "is pinned");
      api.ok(200, "unpin", name("team/default:latest"));
      api.ok(200, "evict", new JsonObject().put("digest", model.largestLayer().digest().toString()));
    }
  }

  // ------------------------------------------------------------------ refresh, prefetch

  @Test
  void refreshReportsBeforeAndAfterAndWhetherUpstreamMovedTheTag() throws Exception {
    FakeModel v1 = tiny();
    try (Harness h = Harness.start(dir, v1)) {
      AdminHttp api = new AdminHttp(h.url());
      JsonObject first = api.ok(200, "refresh", name("tiny"));
      assertEquals("library/tiny:latest", first.getString("name"));
      assertNull(first.getValue("before"), "not cached before: " + first.encode());
      assertEquals(v1.manifestDigest().toString(), first.getString("after"));
      assertFalse(first.getBoolean("changed"));

      JsonObject same = api.ok(200, "refresh", name("tiny"));
      assertEquals(v1.manifestDigest().toString(), same.getString("before"));
      assertEquals(v1.manifestDigest().toString(), same.getString("after"));
      assertFalse(same.getBoolean("changed"));

      FakeModel v2 = v1.nextVersion();
      h.upstream.addModel(v2);
      JsonObject moved = api.ok(200, "refresh", name("library/tiny:latest"));
      assertEquals(v1.manifestDigest().toString(), moved.getString("before"));
      assertEquals(v2.manifestDigest().toString(), moved.getString("after"));
      assertTrue(moved.getBoolean("changed"));
      JsonObject m = api.list("models").getJsonObject(0);
      assertEquals(v2.manifestDigest().toString(), m.getString("digest"));
      assertEquals(2, m.getJsonArray("history").size(), m.encode());
      RawResponse served = RawHttp.get(h.url() + "/v2/library/tiny/manifests/latest");
      assertArrayEquals(v2.manifestBytes(), served.body(), "the next pull gets the new manifest");

      assertError(api.post("refresh", name("library/nosuch:latest")), 404, "MANIFEST_UNKNOWN");
      assertEquals(1, api.list("models").size(), "a failed refresh records nothing");
    }
  }

  @Test
  void prefetchRunsToDoneAndCommitsEveryBlob() throws Exception {
    FakeModel model = tiny();
    try (Harness h = Harness.start(dir, model)) {
      AdminHttp api = new AdminHttp(h.url());
      JsonObject started = api.ok(202, "prefetch", name("tiny"));
      String id = started.getString("id");
      assertNotNull(id);
      assertEquals("library/tiny:latest", started.getString("name"));
      JsonObject done = api.await("prefetch/" + id, j -> !j.getString("state").equals("running"), DEADLINE);
      assertEquals("done", done.getString("state"), done.encode());
      assertEquals(model.totalBytes(), done.getLong("totalBytes"));
      assertEquals(model.totalBytes(), done.getLong("doneBytes"));
      assertEquals(model.blobs().size(), done.getInteger("blobs"));
      assertEquals(model.blobs().size(), done.getInteger("blobsDone"));
      assertNotNull(done.getLong("finishedAt"));
      assertNull(done.getValue("error"));
      for (FakeBlob b : model.blobs()) {
        assertTrue(h.proxy.store().lookup(b.digest()).isPresent(), b.digest() + " is committed when the job is done");
      }
      assertEquals(Set.of(id), field(api.list("prefetch"), "id"));

      // a second prefetch of a cached model is done at once and fetches nothing
      long upstream = h.upstream.stats().blobBytes();
      JsonObject again = api.ok(202, "prefetch", name("library/tiny:latest"));
      JsonObject done2 = api.await("prefetch/" + again.getString("id"), j -> !j.getString("state").equals("running"), DEADLINE);
      assertEquals("done", done2.getString("state"));
      assertEquals(upstream, h.upstream.stats().blobBytes());

      JsonObject missing = api.ok(202, "prefetch", name("library/nosuch:latest"));
      JsonObject failed = api.await("prefetch/" + missing.getString("id"), j -> !j.getString("state").equals("running"), DEADLINE);
      assertEquals("failed", failed.getString("state"));
      assertNotNull(failed.getString("error"), failed.encode());

      assertError(api.get("prefetch/999"), 404, "NOT_FOUND", "no prefetch job 999");
    }
  }

  // ------------------------------------------------------------------ aliases

  @Test
  void anAliasServesItsTargetsManifestAndBlobsUntilRemoved() throws Exception {
    FakeModel model = tiny();
    try (Harness h = Harness.start(dir, model)) {
      AdminHttp api = new AdminHttp(h.url());
      JsonObject made = api.ok(200, "alias", new JsonObject().put("name", "team/default").put("target", "tiny:latest"));
      assertEquals("team/default:latest", made.getString("name"));
      assertEquals("library/tiny:latest", made.getString("target"));
      JsonArray aliases = api.list("aliases");
      assertEquals(1, aliases.size());
      assertEquals("library/tiny:latest", aliases.getJsonObject(0).getString("target"));
      assertEquals(1, api.object("stats").getJsonObject("catalog").getInteger("aliases"));

      RawResponse manifest = RawHttp.get(h.url() + "/v2/team/default/manifests/latest");
      assertEquals(200, manifest.status(), manifest.toString());
      assertArrayEquals(model.manifestBytes(), manifest.body(), "the target's manifest bytes, unchanged");
      assertEquals(model.manifestDigest().toString(), manifest.header("Docker-Content-Digest").orElseThrow());

      pull(h, "team/default:latest", "ollama");
      MirrorPullTest.assertSameBlobs(model, dir.resolve("ollama"));
      h.awaitIdle();
      assertEquals(model.blobs().size(), h.proxy.store().committedBlobs());

      // an alias may not point at another alias, or be the target of one: nothing changes
      assertError(api.post("alias", new JsonObject().put("name", "team/chain").put("target", "team/default")), 400, "NAME_INVALID",
          "is itself an alias");
      assertError(api.post("alias", new JsonObject().put("name", "tiny").put("target", "library/other:1b")), 400, "NAME_INVALID",
          "target of alias team/default:latest");
      assertEquals(1, api.list("aliases").size());

      JsonObject removed = api.ok(200, "unalias", name("team/default:latest"));
      assertEquals("team/default:latest", removed.getString("removed"));
      assertEquals(0, api.list("aliases").size());
      RawResponse gone = RawHttp.get(h.url() + "/v2/team/default/manifests/latest");
      assertEquals(404, gone.status(), "upstream has no team/default: " + gone);
      assertError(api.post("unalias", name("team/default")), 404, "NOT_FOUND", "no alias team/default:latest");
    }
  }

  @Test
  void anAliasFixedToADigestUsesTheSameShortNamesAsTags() throws Exception {
    FakeModel model = tiny();
    try (Harness h = Harness.start(dir, model)) {
      AdminHttp api = new AdminHttp(h.url());
      JsonObject made = api.ok(200, "alias", new JsonObject().put("name", "team/fixed:v1").put("target", "tiny@" + model.manifestDigest()));
      assertEquals("library/tiny@" + model.manifestDigest(), made.getString("target"));
      RawResponse manifest = RawHttp.get(h.url() + "/v2/team/fixed/manifests/v1");
      assertEquals(200, manifest.status(), manifest.toString());
      assertArrayEquals(model.manifestBytes(), manifest.body());
      pull(h, "team/fixed:v1", "ollama");
      MirrorPullTest.assertSameBlobs(model, dir.resolve("ollama"));
      assertError(api.post("refresh", name("team/fixed:v1")), 400, "NAME_INVALID", "nothing to refresh");
    }
  }

  @Test
  void refreshingAnAliasRefreshesTheTagItFollows() throws Exception {
    FakeModel v1 = tiny();
    try (Harness h = Harness.start(dir, v1)) {
      AdminHttp api = new AdminHttp(h.url());
      api.ok(200, "alias", new JsonObject().put("name", "team/default").put("target", "tiny"));
      assertEquals(200, RawHttp.get(h.url() + "/v2/team/default/manifests/latest").status());
      FakeModel v2 = v1.nextVersion();
      h.upstream.addModel(v2);
      JsonObject r = api.ok(200, "refresh", name("team/default"));
      assertEquals("library/tiny:latest", r.getString("name"));
      assertTrue(r.getBoolean("changed"), r.encode());
      assertArrayEquals(v2.manifestBytes(), RawHttp.get(h.url() + "/v2/team/default/manifests/latest").body());
    }
  }

  // ------------------------------------------------------------------ verify

  @Test
  void verifyFindsAndQuarantinesACorruptedBlob() throws Exception {
    FakeModel model = tiny();
    try (Harness h = Harness.start(dir, model)) {
      AdminHttp api = new AdminHttp(h.url());
      assertEquals("never run", api.object("verify").getString("state"));
      pull(h, model.reference(), "ollama1");
      settle(h, api);

      FakeBlob victim = model.largestLayer();
      Path file = h.proxy.store().blobPath(victim.digest());
      corrupt(file);

      JsonObject started = api.ok(202, "verify", new JsonObject());
      assertTrue(started.getLong("startedAt") > 0);
      JsonObject done = api.await("verify", v -> !v.getString("state").equals("running"), DEADLINE);
      assertEquals("done", done.getString("state"), done.encode());
      assertEquals(model.blobs().size(), done.getLong("checked"));
      assertEquals(new JsonArray().add(victim.digest().toString()), done.getJsonArray("corrupt"));
      assertEquals(0, done.getJsonArray("skipped").size());
      assertEquals(0, done.getJsonArray("unreadable").size());
      assertEquals(model.blobs().size(), done.getLong("blobsTotal"));
      assertEquals(model.totalBytes(), done.getLong("bytesTotal"));
      assertNotNull(done.getLong("finishedAt"));

      assertFalse(Files.exists(file), "moved out of blobs/");
      assertTrue(Files.exists(h.cacheDir.resolve("quarantine").resolve("sha256-" + victim.digest().hex())), "kept in quarantine/");
      assertFalse(field(api.list("blobs"), "digest").contains(victim.digest().toString()));

      // the next pull fetches a good copy
      pull(h, model.reference(), "ollama2");
      MirrorPullTest.assertSameBlobs(model, dir.resolve("ollama2"));
    }
  }

  /** Flips one byte of a committed blob (mode 0444: made writable first). */
  static void corrupt(Path file) throws Exception {
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
    byte[] bytes = Files.readAllBytes(file);
    bytes[bytes.length / 2] ^= 0x5a;
    Files.write(file, bytes);
  }

  // ------------------------------------------------------------------ refused calls

  @Test
  void withAnAdminTokenEveryChangeWithoutItOrWithAWrongOneIs401AndChangesNothing() throws Exception {
    FakeModel model = tiny();
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(16), FakeRegistry.start(model), "--admin-token", TOKEN)) {
      AdminHttp anonymous = new AdminHttp(h.url());
      AdminHttp wrong = anonymous.withToken("not-the-token-at-all");
      AdminHttp admin = anonymous.withToken(TOKEN);
      pull(h, model.reference(), "ollama");
      settle(h, anonymous);

      Map<String, JsonObject> changes = Map.of(
          "pin", name("tiny"),
          "unpin", name("tiny"),
          "evict", name("tiny"),
          "refresh", name("tiny"),
          "prefetch", name("tiny"),
          "alias", new JsonObject().put("name", "team/x").put("target", "tiny"),
          "unalias", name("team/x"),
          "verify", new JsonObject());
      for (Map.Entry<String, JsonObject> c : changes.entrySet()) {
        for (AdminHttp refused : List.of(anonymous, wrong)) {
          assertError(refused.post(c.getKey(), c.getValue()), 401, "UNAUTHORIZED", "Authorization: Bearer");
        }
      }
      // nothing changed
      assertEquals(0, admin.list("pins").size());
      assertEquals(0, admin.list("aliases").size());
      assertEquals(0, admin.list("prefetch").size());
      assertEquals("never run", admin.object("verify").getString("state"));
      assertEquals(model.blobs().size(), admin.list("blobs").size());
      assertEquals(0, admin.object("stats").getJsonObject("cache").getLong("evictions"));

      // reads are open; the right token changes things
      assertEquals(200, anonymous.get("stats").status());
      assertEquals(200, anonymous.get("models").status());
      admin.ok(200, "pin", name("tiny"));
      assertEquals(1, anonymous.list("pins").size());
    }
  }

  @Test
  void badInputIs400WithAClearMessageAndChangesNothing() throws Exception {
    FakeModel model = tiny();
    try (Harness h = Harness.start(dir, model)) {
      AdminHttp api = new AdminHttp(h.url());
      pull(h, model.reference(), "ollama");
      settle(h, api);
      String digest = model.config().digest().toString();

      record Case(String path, String body, String... fragments) {}
      List<Case> cases = new ArrayList<>(List.of(
          new Case("pin", "{not json", "not a JSON object"),
          new Case("pin", "[\"tiny\"]", "not a JSON object"),
          new Case("pin", "null", "not a JSON object"),
          new Case("pin", "\"tiny\"", "not a JSON object"),
          new Case("pin", "", "string field \"name\""),
          new Case("pin", "{}", "string field \"name\""),
          new Case("pin", "{\"name\":7}", "string field \"name\""),
          new Case("pin", "{\"name\":\"  \"}", "string field \"name\""),
          new Case("pin", "{\"model\":\"tiny\"}", "string field \"name\""),
          new Case("pin", "{\"name\":\"library/../etc:latest\"}", "library/../etc", "expected e.g. library/qwen2.5:7b"),
          new Case("pin", "{\"name\":\"../tiny\"}", "../tiny"),
          new Case("pin", "{\"name\":\"tiny:bad tag\"}", "tag"),
          new Case("pin", "{\"name\":\"" + digest + "\"}", "got a digest"),
          new Case("pin", "{\"name\":\"tiny@" + digest + "\"}", "got a digest"),
          new Case("unpin", "{\"name\":\"" + digest + "\"}", "got a digest"),
          new Case("refresh", "{\"name\":\"tiny:" + digest + "\"}", "got a digest"),
          new Case("prefetch", "{\"name\":\"" + digest + "\"}", "got a digest"),
          new Case("prefetch", "{}", "string field \"name\""),
          new Case("evict", "{}", "string field \"name\""),
          new Case("evict", "{\"digest\":\"sha256:1234\"}", "sha256:1234"),
          new Case("evict", "{\"digest\":\"md5:" + "0".repeat(32) + "\"}", "md5"),
          new Case("evict", "{\"digest\":5}", "string field \"digest\""),
          new Case("evict", "{\"name\":\"" + digest + "\"}", "got a digest"),
          new Case("alias", "{\"name\":\"team/x\"}", "string field \"target\""),
          new Case("alias", "{\"target\":\"tiny\"}", "string field \"name\""),
          new Case("alias", "{\"name\":\"team/x\",\"target\":\"team/x:latest\"}", "cannot point to itself"),
          new Case("alias", "{\"name\":\"team/x\",\"target\":\"../etc\"}", "../etc"),
          new Case("alias", "{\"name\":\"" + digest + "\",\"target\":\"tiny\"}", "got a digest"),
          new Case("alias", "{\"name\":\"team/x\",\"target\":\"tiny@sha256:nothex\"}", "sha256:nothex"),
          new Case("unalias", "{\"name\":\"..\"}", ".."),
          new Case("pin", "{\"name\":\"" + "x".repeat(70 << 10) + "\"}", "larger than")));
      for (Case c : cases) {
        AdminHttp.Resp r = api.post(c.path(), c.body());
        assertEquals(400, r.status(), c.path() + " " + abbreviate(c.body()) + " -> " + r);
        assertEquals("NAME_INVALID", r.code(), r.toString());
        for (String f : c.fragments()) {
          assertTrue(r.message().contains(f), c.path() + " " + abbreviate(c.body()) + ": the message names '" + f + "': " + r.message());
        }
      }
      assertEquals(0, api.list("pins").size());
      assertEquals(0, api.list("aliases").size());
      assertEquals(0, api.list("prefetch").size());
      assertEquals(model.blobs().size(), api.list("blobs").size());
      assertEquals(1, api.list("models").size());
    }
  }

  private static String abbreviate(String s) {
    return s.length() > 80 ? s.substring(0, 80) + "..." : s;
  }

  @Test
  void unknownPathsAre404AndWrongMethods405() throws Exception {
    try (Harness h = Harness.start(dir, tiny())) {
      AdminHttp api = new AdminHttp(h.url());
      assertError(api.get("nope"), 404, "NOT_FOUND", "no admin API at /admin/v1/nope");
      assertError(api.post("nope", "{}"), 404, "NOT_FOUND", "no admin API at POST /admin/v1/nope");
      assertError(api.get("stats/"), 404, "NOT_FOUND");

      AdminHttp.Resp getPin = api.get("pin");
      assertError(getPin, 405, "UNSUPPORTED", "use POST");
      assertEquals("POST", getPin.header("Allow"));
      AdminHttp.Resp postStats = api.post("stats", "{}");
      assertError(postStats, 405, "UNSUPPORTED", "use GET");
      assertEquals("GET", postStats.header("Allow"));
      AdminHttp.Resp putVerify = api.send("PUT", "verify", "{}");
      assertError(putVerify, 405, "UNSUPPORTED");
      assertEquals("GET, POST", putVerify.header("Allow"));
      assertError(api.send("DELETE", "pins", null), 405, "UNSUPPORTED");
      assertError(api.send("DELETE", "nope", null), 405, "UNSUPPORTED");
      assertEquals(0, api.list("pins").size());
    }
  }
}
