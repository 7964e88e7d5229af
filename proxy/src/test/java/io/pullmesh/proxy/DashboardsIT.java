package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.fetch.FetchConfig;
import io.pullmesh.testkit.Waits;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.client.PullException;
import io.pullmesh.testkit.fault.Fault;
import io.pullmesh.testkit.fault.FaultRule;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import io.pullmesh.testkit.tools.ExternalTool;
import io.pullmesh.testkit.tools.ProcessResult;
import io.pullmesh.testkit.tools.Tools;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.net.InetSocketAddress;
import java.net.ProxySelector;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The files in {@code dashboards/} against the real thing: a pullmesh proxy in front of the fake upstream serves
 * real pulls (cold, warm, through the forward proxy, with injected upstream faults) while the real Prometheus
 * server scrapes it with the repository's scrape configuration and alert rules. Then every query of every
 * Grafana panel must be valid PromQL and return data, and every alert must go pending or firing on the fault
 * it is about; PullmeshDown when the proxy is stopped.
 */
class DashboardsIT {
  static final long MIB = 1 << 20;
  static final Duration WAIT = Duration.ofSeconds(20);
  static final Set<String> ALERTS = Set.of("PullmeshDown", "UpstreamFailing", "DigestMismatches", "DownloadsStalled", "CacheNearLimit",
      "BlobCorrupt", "CacheNotWritable");

  @TempDir Path dir;

  // ------------------------------------------------------------------ promtool

  @Test
  void promtoolAcceptsTheScrapeConfigTheRulesAndTheRuleTests() {
    Tools.requireTool(ExternalTool.PROMTOOL);
    Path prom = DashboardFiles.dir().resolve("prometheus");
    ProcessResult config = ExternalTool.PROMTOOL.run(Duration.ofSeconds(30), "check", "config", prom.resolve("prometheus.yml").toString());
    assertTrue(config.succeeded(), config.describe());
    assertTrue(config.stdout().contains("1 rule files found"), "the config loads alerts.yml: " + config.describe());
    ProcessResult rules = ExternalTool.PROMTOOL.run(Duration.ofSeconds(30), "check", "rules", prom.resolve("alerts.yml").toString());
    assertTrue(rules.succeeded(), rules.describe());
    assertTrue(rules.stdout().contains(ALERTS.size() + " rules found"), rules.describe());
    // the thresholds, on synthetic series: each alert fires on its fault and stays quiet on a healthy node
    ProcessResult tests = ExternalTool.PROMTOOL.run(Duration.ofSeconds(60), "test", "rules", prom.resolve("alerts_test.yml").toString());
    assertTrue(tests.succeeded(), tests.describe());
  }

  // ------------------------------------------------------------------ Prometheus against a live proxy

  @Test
  void everyPanelAndAlertQueryReturnsDataFromALiveProxy() throws Exception {
    Tools.requireTool(ExternalTool.PROMETHEUS);
    FakeModel a = ModelFixture.of("library/alpha", "latest").seed(11).layer(MediaTypes.MODEL, 30 * MIB)
        .layer(MediaTypes.TEMPLATE, 311).layer(MediaTypes.PARAMS, 97).create(dir.resolve("model-a"));
    FakeModel b = ModelFixture.of("library/bravo", "latest").seed(12).layer(MediaTypes.MODEL, 30 * MIB)
        .layer(MediaTypes.TEMPLATE, 311).layer(MediaTypes.PARAMS, 97).create(dir.resolve("model-b"));
    FakeModel c = ModelFixture.of("library/faulty", "latest").seed(13).layer(MediaTypes.MODEL, 3 * MIB)
        .layer(MediaTypes.LICENSE, 512 << 10).layer(MediaTypes.TEMPLATE, 200).create(dir.resolve("model-c"));
    FakeModel d = ModelFixture.of("library/slow", "latest").seed(14).layer(MediaTypes.MODEL, 2 * MIB).create(dir.resolve("model-d"));
    FakeModel e = ModelFixture.of("library/shared", "latest").seed(15).layer(MediaTypes.MODEL, 2 * MIB).create(dir.resolve("model-e"));
    FakeModel f = ModelFixture.of("library/seeded", "latest").seed(16).layer(MediaTypes.MODEL, 2 * MIB).create(dir.resolve("model-f"));
    // a 64 MiB cache (the smallest allowed): alpha and bravo fill it past 90%, the next model evicts
    long limit = 64 * MIB;
    assertTrue(a.totalBytes() + b.totalBytes() > 0.9 * limit && a.totalBytes() + b.totalBytes() < limit);
    FakeRegistry upstream = FakeRegistry.start(a, b, c, d);
    // 4 connections and pieces up to 16 MiB: 16 pieces per blob of 1 MiB or more. (The tests' usual 64 KiB to 1 MiB
    // pieces would make hundreds of pieces of these models, and dilute the stall ratio DownloadsStalled computes.)
    FetchConfig fetch = Harness.testFetchConfig(4).withPieceSizes(64 << 10, 16 << 20);
    // the proxy is a node of a mesh, with a second node and (later) a lying peer, for the mesh panels
    Path secret = dir.resolve("mesh.secret");
    Files.writeString(secret, MeshPullTest.SECRET);
    int meshH = MeshPullTest.freePort();
    int meshPeer = MeshPullTest.freePort();
    int meshLiar = MeshPullTest.freePort();
    String members = "127.0.0.1:" + meshH + ",127.0.0.1:" + meshPeer + ",127.0.0.1:" + meshLiar;
    Harness h = Harness.start(dir, fetch, upstream, "--cache-max-bytes", Long.toString(limit), "--mesh-name", "office",
        "--mesh-secret-file", secret.toString(), "--mesh-port", Integer.toString(meshH), "--mesh-members", members);
    PullmeshProxy peer = PullmeshProxy.start(Harness.config(upstream.registryUrl(), dir.resolve("peer-cache"), "--mesh-name", "office",
        "--mesh-secret-file", secret.toString(), "--mesh-port", Integer.toString(meshPeer), "--mesh-members", members), fetch,
        java.time.Clock.systemUTC());
    MeshPullTest.LyingPeer liar = null;
    try (PrometheusServer prom = PrometheusServer.start(dir.resolve("prometheus"), prometheusConfig(h.proxy.port()));
        OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
      String instance = "127.0.0.1:" + h.proxy.port();
      Scrapes scrapes = new Scrapes(prom);
      prom.awaitVector("up{job=\"pullmesh\"} == 1", v -> v.size() == 1, WAIT, "Prometheus scrapes the proxy:\n" + prom.log());

      // ---- healthy traffic: cold pulls, warm pulls, one through the forward proxy, one refused CONNECT
      client.pull(h.url(), a.reference(), dir.resolve("ollama-a1"));
      h.awaitIdle();
      scrapes.sync();
      client.pull(h.url(), b.reference(), dir.resolve("ollama-b1"));
      h.awaitIdle();
      scrapes.sync();
      client.pull(h.url(), a.reference(), dir.resolve("ollama-a2"));
      scrapes.sync();
      try (OllamaLikeClient viaProxy = new OllamaLikeClient(ClientOptions.forTests()
          .proxySelector(ProxySelector.of(new InetSocketAddress("127.0.0.1", h.proxy.port())))
          .sslContext(InterceptionTest.trusting(h.proxy.ca().certificate())).build())) {
        viaProxy.pull("https://registry.ollama.ai", b.reference(), dir.resolve("ollama-b2"));
      }
      MirrorPullTest.assertSameBlobs(b, dir.resolve("ollama-b2"));
      String refused = InterceptionTest.rawExchange(h.proxy.port(), "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
      assertTrue(refused.startsWith("HTTP/1.1 403"), refused);
      scrapes.sync();
      // the alert rules as Prometheus loaded them from alerts.yml
      Map<String, JsonObject> rules = alertRules(prom);
      assertEquals(ALERTS, rules.keySet());
      List<String> seen = new ArrayList<>();
      // the cache holds alpha and bravo: over 90% of its limit
      seen.add(awaitAlert(prom, rules.get("CacheNearLimit"), instance));

      // ---- an expired CDN URL in the middle of a throttled download: re-resolved; the space it needs evicts
      FakeBlob slow = d.largestLayer();
      upstream.setCdnBytesPerSecond(256 << 10);
      long cdnBefore = upstream.stats().cdnBlobBytes();
      CompletableFuture<RawResponse> get = CompletableFuture.supplyAsync(
          () -> RawHttp.request("GET", h.blobUrl(d, slow.digest()), Map.of(), Duration.ofSeconds(30)));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (upstream.stats().cdnBlobBytes() < cdnBefore + (256 << 10) && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      upstream.expireIssuedUrls();
      RawResponse slowBody = get.get(60, TimeUnit.SECONDS);
      upstream.setCdnBytesPerSecond(0);
      assertTrue(slowBody.complete() && slowBody.status() == 200, slowBody.toString());
      h.awaitIdle();
      scrapes.sync();

      // ---- faults, first round: the counters' series appear (Prometheus' rate() starts counting from there)
      FakeBlob big = c.largestLayer();
      FakeBlob license = c.layers().stream().filter(l -> l.mediaType().equals(MediaTypes.LICENSE)).findFirst().orElseThrow();
      injectFaults(upstream, big, license, 1);
      pullThroughFaults(h, client, c, big, dir.resolve("ollama-c1"));
      scrapes.sync();
      for (String series : List.of("pullmesh_digest_mismatches_total", "pullmesh_piece_stalls_total",
          "pullmesh_upstream_requests_total{status=\"503\"}", "pullmesh_upstream_range_fallbacks_total")) {
        prom.awaitVector(series, v -> !v.isEmpty(), WAIT, "the first fault round created " + series);
      }

      // ---- second round: the same faults again, now counted as increases; more stalls
      AdminHttp admin = new AdminHttp(h.url());
      admin.ok(200, "evict", new JsonObject().put("name", c.reference()));
      upstream.cdnFaults().clear();
      injectFaults(upstream, big, license, 12);
      pullThroughFaults(h, client, c, big, dir.resolve("ollama-c2"));
      scrapes.sync();
      seen.add(awaitAlert(prom, rules.get("DigestMismatches"), instance));
      seen.add(awaitAlert(prom, rules.get("DownloadsStalled"), instance));

      // ---- bit rot: a committed blob's file changes behind pullmesh's back; a scrub pass quarantines it (BlobCorrupt)
      io.pullmesh.store.BlobRecord rotted = h.proxy.store().blobs().stream().max(java.util.Comparator.comparingLong(
          io.pullmesh.store.BlobRecord::size)).orElseThrow();
      ScrubberTest.flipByte(h.proxy.store().blobPath(rotted.digest()), rotted.size() / 2);
      assertTrue(h.proxy.scrubber().pass().corrupt().contains(rotted.digest()), "the scrub found the rotted blob");
      h.awaitIdle();
      scrapes.sync();
      seen.add(awaitAlert(prom, rules.get("BlobCorrupt"), instance));

      // ---- a CDN outage: every blob request answers 503; the pull fails
      admin.ok(200, "evict", new JsonObject().put("name", c.reference()));
      upstream.cdnFaults().clear();
      upstream.cdnFaults().add(FaultRule.always(Fault.status(503)));
      try (OllamaLikeClient oneTry = new OllamaLikeClient(ClientOptions.forTests().maxTries(2).build())) {
        assertThrows(PullException.class, () -> oneTry.pull(h.url(), c.reference(), dir.resolve("ollama-c3")));
      }
      upstream.cdnFaults().clear();
      h.awaitIdle();
      scrapes.sync();
      seen.add(awaitAlert(prom, rules.get("UpstreamFailing"), instance));

      // ---- the mesh: h fetches e and serves it to its peer; the peer fetches f, and h takes f from the peer and
      // from a lying peer, whose corrupt pieces h catches by their piece hashes
      Waits.awaitTrue(() -> h.proxy.mesh().members().size() == 2, "h and its peer form a mesh");
      upstream.addModel(e);
      upstream.addModel(f);
      client.pull(h.url(), e.reference(), dir.resolve("ollama-e1"));
      h.awaitIdle();
      client.pull(peer.url(), e.reference(), dir.resolve("ollama-e2"));
      client.pull(peer.url(), f.reference(), dir.resolve("ollama-f1"));
      Waits.awaitTrue(() -> peer.store().lookup(f.largestLayer().digest()).isPresent(), "the peer committed f");
      liar = new MeshPullTest.LyingPeer(meshLiar, members, Map.of(f.largestLayer().digest(), f.largestLayer().file()));
      Waits.awaitTrue(() -> h.proxy.mesh().members().size() == 3, "the liar joined");
      MeshPullTest.awaitPieceHashes(h.proxy, f.largestLayer().digest());
      client.pull(h.url(), f.reference(), dir.resolve("ollama-f2"));
      MirrorPullTest.assertSameBlobs(f, dir.resolve("ollama-f2"));
      h.awaitIdle();
      scrapes.sync();
      prom.awaitVector("pullmesh_peer_piece_failures_total{reason=\"digest\"}", v -> !v.isEmpty(), WAIT, "h caught the liar");

      // ---- every panel's queries: valid, and with data
      System.gc(); // a GC pause after the meters were bound, for the GC panels: the test JVM may not have had one yet
      scrapes.sync();
      // $instance as Grafana writes one selected value into a regex matcher: dots escaped (\\. in a PromQL string)
      Map<String, String> vars = Map.of("instance", instance.replace(".", "\\\\."),
          "__rate_interval", "2m", "__interval", "15s", "__range", "2m");
      List<String> empty = new ArrayList<>();
      List<String> report = new ArrayList<>();
      List<DashboardFiles.Target> targets = DashboardFiles.targets();
      assertTrue(targets.size() >= 40, "dashboards have " + targets.size() + " queries");
      for (DashboardFiles.Target t : targets) {
        String expr = DashboardFiles.substitute(t.expr(), vars);
        JsonArray v = prom.vector(expr);
        report.add(t.where() + ": " + v.size() + " series " + PrometheusServer.values(v));
        if (v.isEmpty() || PrometheusServer.values(v).stream().allMatch(x -> x.isNaN())) {
          // no series, or only NaN (a ratio of counters that did not move): the panel would show nothing
          empty.add(t.where() + ": " + expr + " -> " + v.encode());
        } else {
          // the instance filter selects this proxy: no series of another instance slipped in
          for (Object o : v) {
            String inst = ((JsonObject) o).getJsonObject("metric").getString("instance");
            assertTrue(inst == null || inst.equals(instance), t.where() + ": " + o);
          }
        }
      }
      Files.createDirectories(Path.of("target"));
      Files.write(Path.of("target", "dashboards-it-queries.txt"), report);
      Files.writeString(Path.of("target", "dashboards-it-scrape.txt"), RawHttp.get(h.url() + "/metrics").bodyText());
      assertTrue(empty.isEmpty(), "queries without data:\n" + String.join("\n", empty) + "\n\nall:\n" + String.join("\n", report));

      // the instance variable's query (label_values(pullmesh_cache_bytes, instance)) lists this proxy
      JsonArray instances = prom.api("label/instance/values?match[]=pullmesh_cache_bytes").getJsonArray("data");
      assertEquals(new JsonArray().add(instance), instances);

      // ---- the proxy goes away: up == 0, PullmeshDown
      h.proxy.close();
      prom.awaitVector("up{job=\"pullmesh\"} == 0", v -> v.size() == 1, WAIT, "Prometheus sees the proxy down");
      seen.add(awaitAlert(prom, rules.get("PullmeshDown"), instance));
      Files.write(Path.of("target", "dashboards-it-alerts.txt"), seen);

      // every alert was seen pending or firing above; each has its one-line runbook
      for (JsonObject r : rules.values()) {
        String runbook = r.getJsonObject("annotations").getString("runbook", "");
        assertFalse(runbook.isBlank() || runbook.contains("\n"), r.getString("name") + " has a one-line runbook: " + runbook);
      }
    } finally {
      if (liar != null) {
        liar.close();
      }
      peer.close();
      h.close(); // PullmeshProxy.close is idempotent
    }
  }

  /**
   * On the CDN: the big layer answers 503 twice, stalls {@code stalls} times, and is corrupted once; the license
   * layer ignores Range.
   */
  private static void injectFaults(FakeRegistry upstream, FakeBlob big, FakeBlob license, int stalls) {
    upstream.cdnFaults().add(FaultRule.next(2, Fault.status(503)).forDigest(big.digest()));
    upstream.cdnFaults().add(FaultRule.next(stalls, Fault.stallAfter(50_000)).forDigest(big.digest()));
    upstream.cdnFaults().add(FaultRule.once(Fault.corrupt(1_000_000)).forDigest(big.digest()));
    upstream.cdnFaults().add(FaultRule.always(Fault.ignoreRange()).forDigest(license.digest()));
  }

  /**
   * Gets the big layer with a plain GET first: its download meets the faults (the corrupt byte among them, found
   * only when the whole blob is hashed, so this client's body is cut off, never ended cleanly with bad bytes); then
   * pulls the model like Ollama and checks every byte.
   */
  private static void pullThroughFaults(Harness h, OllamaLikeClient client, FakeModel model, FakeBlob big, Path dest) throws Exception {
    RawResponse first = RawHttp.request("GET", h.blobUrl(model, big.digest()), Map.of(), Duration.ofSeconds(30));
    assertFalse(first.complete() && !Arrays.equals(Files.readAllBytes(big.file()), first.body()),
        "a complete response has the right bytes: " + first);
    h.awaitIdle();
    client.pull(h.url(), model.reference(), dest);
    MirrorPullTest.assertSameBlobs(model, dest);
    h.awaitIdle();
  }

  /**
   * The repository's dashboards/prometheus/prometheus.yml, made to scrape this proxy every second, evaluate rules
   * every second and load the repository's alerts.yml by its absolute path. Fails if the file no longer has the
   * lines this replaces.
   */
  static String prometheusConfig(int port) throws Exception {
    Path prom = DashboardFiles.dir().resolve("prometheus");
    String text = Files.readString(prom.resolve("prometheus.yml"));
    Map<String, String> edits = new LinkedHashMap<>();
    edits.put("scrape_interval: 15s", "scrape_interval: 1s");
    edits.put("evaluation_interval: 15s", "evaluation_interval: 1s");
    edits.put("- alerts.yml", "- " + prom.resolve("alerts.yml").toAbsolutePath());
    edits.put("- pullmesh:9200", "- 127.0.0.1:" + port);
    for (Map.Entry<String, String> e : edits.entrySet()) {
      assertTrue(text.contains(e.getKey()), "prometheus.yml has " + e.getKey());
      text = text.replace(e.getKey(), e.getValue());
    }
    return text;
  }

  /** The alerting rules Prometheus loaded, by name (name, query, duration, labels, annotations, state, alerts). */
  static Map<String, JsonObject> alertRules(PrometheusServer prom) {
    JsonObject r = prom.api("rules?type=alert");
    assertEquals("success", r.getString("status"), r.encode());
    Map<String, JsonObject> out = new LinkedHashMap<>();
    for (Object g : r.getJsonObject("data").getJsonArray("groups")) {
      for (Object rule : ((JsonObject) g).getJsonArray("rules")) {
        JsonObject o = (JsonObject) rule;
        assertEquals("", o.getString("lastError", ""), o.encode());
        out.put(o.getString("name"), o);
      }
    }
    return out;
  }

  /**
   * Waits until the alert is pending or firing for this instance (Prometheus' rule engine evaluated the rule's
   * expression and it returned this instance), then runs the rule's expression as a query: it returns data too.
   *
   * @return name, state and value of the alert, for the test's report
   */
  static String awaitAlert(PrometheusServer prom, JsonObject rule, String instance) throws InterruptedException {
    String name = rule.getString("name");
    long deadline = System.nanoTime() + WAIT.toNanos();
    JsonArray alerts = null;
    while (System.nanoTime() < deadline) {
      alerts = prom.api("alerts").getJsonObject("data").getJsonArray("alerts");
      JsonObject active = alerts.stream().map(o -> (JsonObject) o).filter(al ->
          name.equals(al.getJsonObject("labels").getString("alertname"))
              && instance.equals(al.getJsonObject("labels").getString("instance"))
              && Set.of("pending", "firing").contains(al.getString("state"))).findFirst().orElse(null);
      if (active != null) {
        JsonArray v = prom.vector(rule.getString("query"));
        assertFalse(v.isEmpty(), name + ": " + rule.getString("query"));
        return name + " " + active.getString("state") + " value=" + active.getString("value");
      }
      Thread.sleep(100);
    }
    String query = rule.getString("query");
    // the values the rule compares, for the message: its expression without the final comparison
    String lhs = query.replaceAll("\\s*>\\s*[0-9.]+\\s*$", "");
    throw new AssertionError(name + " not pending or firing for " + instance + " after " + WAIT.toSeconds() + " s; its query "
        + query + " -> " + prom.vector(query).encode() + "; without the threshold -> " + prom.vector(lhs).encode()
        + "; alerts: " + alerts + "\ncounters: " + prom.vector("{__name__=~\"pullmesh_.*_total\"}").encode());
  }

  /** Waiting for the next scrape of the proxy. */
  static final class Scrapes {
    private final PrometheusServer prom;

    Scrapes(PrometheusServer prom) {
      this.prom = prom;
    }

    /** Waits for a scrape that started after now: what the proxy counted so far is then in Prometheus. */
    void sync() throws InterruptedException {
      double now = System.currentTimeMillis() / 1000.0;
      prom.awaitVector("timestamp(up{job=\"pullmesh\"})", v -> !v.isEmpty() && PrometheusServer.values(v).get(0) > now,
          WAIT, "a scrape after " + now);
    }
  }
}
