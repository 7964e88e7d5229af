package io.pullmesh.seeder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.proxy.PullmeshProxy;
import io.pullmesh.testkit.Waits;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code prefetch}: models pulled through a node started in-process, from a fake registry.ollama.ai and its CDN. */
class PrefetchTest {
  @TempDir Path dir;

  @Test
  void prefetchFillsTheCacheAndASecondRunTakesNoBlobBytesFromUpstream() throws Exception {
    FakeModel tiny = ModelFixture.tiny().seed(2).create(dir.resolve("models"));
    FakeModel other = ImportTest.small(dir.resolve("models"), "someone/other", "q4", 3);
    Path cache = dir.resolve("cache");
    try (FakeRegistry upstream = FakeRegistry.start(tiny, other)) {
      Cli.Result r = Cli.run("prefetch", "tiny", "someone/other:q4", "--upstream", upstream.registryUrl(), "--cache-dir", cache.toString());
      assertEquals(0, r.code(), r.toString());
      assertTrue(r.out().contains("2 of 2 model(s) in the cache"), r.toString());
      assertTrue(r.err().contains("tiny:latest is in the cache") && r.err().contains("someone/other:q4 is in the cache"),
          "one line per model when stderr is not a terminal:\n" + r);
      // each blob once, plus the one byte per blob of the node's locate probe (Range: bytes=0-0, docs/architecture.md)
      long blobs = tiny.blobs().size() + other.blobs().size();
      long fetched = upstream.stats().blobBytes();
      assertTrue(fetched >= tiny.totalBytes() + other.totalBytes() && fetched <= tiny.totalBytes() + other.totalBytes() + blobs,
          "each blob fetched from upstream once: " + fetched);
      ImportTest.assertImported(cache, tiny, other);
      assertTrue(Files.notExists(cache.resolve("ca")), "a one-off prefetch makes no CA");

      upstream.resetCounters();
      Cli.Result again = Cli.run(true, "prefetch", "tiny", "someone/other:q4", "--upstream", upstream.registryUrl(), "--cache-dir",
          cache.toString());
      assertEquals(0, again.code(), again.toString());
      assertTrue(again.err().contains("\rtiny:latest  [========================]  100%") && again.err().contains("\rsomeone/other:q4  ["),
          "on a terminal, a progress bar per model:\n" + again);
      assertEquals(0, upstream.stats().blobBytes(), "the second prefetch is served from the cache");
    }
  }

  @Test
  void aHuggingFaceModelIsPrefetchedByItsFullNameFromItsOwnRegistry() throws Exception {
    // the testkit's Hugging Face flavour: hf.co's 307 to the hub (127.0.0.3, one of the registry's own hosts), 302 to the CDN
    String repo = "bartowski/Tiny-GGUF";
    FakeModel m = ModelFixture.of(repo, "Q4_K_M").layer(io.pullmesh.testkit.model.MediaTypes.MODEL, 1 << 20).seed(12)
        .create(dir.resolve("models"));
    Path cache = dir.resolve("cache");
    try (FakeRegistry ollama = FakeRegistry.builder().start();
        FakeRegistry hf = FakeRegistry.builder().huggingFace().build().publish(repo, "Q4_K_M", m).start()) {
      Cli.Result r = Cli.run("prefetch", "hf.co/" + repo + ":Q4_K_M", "--upstream", ollama.registryUrl(), "--upstreams",
          "hf.co=" + hf.registryUrl() + ";own-hosts=127.0.0.3", "--cache-dir", cache.toString());
      assertEquals(0, r.code(), r.toString());
      assertTrue(r.err().contains("hf.co/" + repo + ":Q4_K_M is in the cache"), r.toString());
      assertTrue(hf.stats().blobBytes() >= m.totalBytes() && ollama.stats().blobBytes() == 0, "from hf.co's registry only");
      assertTrue(hf.stats().recentRequests().stream().filter(q -> q.uri().startsWith("/v2/")).allMatch(q -> q.uri().startsWith("/v2/" + repo + "/")),
          "asked for with its capitals: " + hf.stats().recentRequests());
    }
    try (io.pullmesh.store.BlobStore store = io.pullmesh.store.BlobStore.open(cache, java.time.Clock.systemUTC())) {
      assertEquals(m.manifestDigest(), store.catalog().tag(io.pullmesh.core.RepositoryName.parse("hf.co/" + repo), "Q4_K_M").orElseThrow().digest());
    }
  }

  @Test
  void aBadOrUnknownNameFailsThatModelOnlyAndIsNamedInTheSummary() throws Exception {
    FakeModel tiny = ModelFixture.tiny().create(dir.resolve("models"));
    Path list = dir.resolve("models.txt");
    Files.writeString(list, """
        # the office's models
        tiny          # the small one

        nosuch:1b
        Not A Name!
        """);
    try (FakeRegistry upstream = FakeRegistry.start(tiny)) {
      Cli.Result r = Cli.run("prefetch", "--list", list.toString(), "--upstream", upstream.registryUrl(), "--cache-dir",
          dir.resolve("cache").toString());
      assertEquals(1, r.code(), r.toString());
      assertTrue(r.out().contains("1 of 3 model(s) in the cache"), r.toString());
      assertTrue(r.err().contains("2 failed:"), r.toString());
      assertTrue(r.err().contains("  nosuch:1b: the manifest: HTTP 404 MANIFEST_UNKNOWN") && r.err().contains("check the name"), r.toString());
      assertTrue(r.err().contains("  Not A Name!: 'Not A Name!' is not a valid model name (expected a model name as for ollama pull"),
          r.toString());
    }
  }

  @Test
  void withASchedulePrefetchKeepsServingAfterTheFirstWarmUp() throws Exception {
    FakeModel tiny = ModelFixture.tiny().seed(6).create(dir.resolve("models"));
    Path cache = dir.resolve("cache");
    try (FakeRegistry upstream = FakeRegistry.start(tiny);
        Cli.Daemon d = new Cli.Daemon("prefetch", "tiny", "--every", "24h", "--listen", "127.0.0.1:0", "--intercept-hosts", "none",
            "--upstream", upstream.registryUrl(), "--cache-dir", cache.toString())) {
      PullmeshProxy node = d.node();
      Waits.awaitTrue(() -> d.out().contains("next warm-up of tiny at"), "the first warm-up finished:\n" + d.out() + d.err());
      assertTrue(d.out().contains("warming tiny now, then every 24h"), d.out());
      assertTrue(d.out().contains("pullmesh-seeder: tiny: 1 of 1 model(s) in the cache (3.0 MiB)"), d.out());
      for (FakeBlob b : tiny.blobs()) {
        assertTrue(node.store().lookup(b.digest()).isPresent(), "committed " + b.digest());
      }
      assertTrue(node.url().startsWith("http://127.0.0.1:"), "still serving at " + node.url());
      assertEquals(0, d.stop());
    }
  }

  @Test
  void usageErrorsSayWhatToFix() throws Exception {
    Cli.Result none = Cli.run("prefetch", "--cache-dir", dir.resolve("c").toString());
    assertEquals(2, none.code(), none.toString());
    assertTrue(none.err().contains("name the models to prefetch"), none.toString());

    Cli.Result both = Cli.run("prefetch", "tiny", "--every", "1h", "--at", "02:00");
    assertEquals(2, both.code(), both.toString());
    assertTrue(both.err().contains("--every and --at cannot both be given"), both.toString());

    Cli.Result noList = Cli.run("prefetch", "--list", dir.resolve("missing.txt").toString());
    assertEquals(2, noList.code(), noList.toString());
    assertTrue(noList.err().contains("cannot read the list file") && noList.err().contains("no such file"), noList.toString());

    Cli.Result badProxyOption = Cli.run("prefetch", "tiny", "--upstream-conections", "4");
    assertEquals(2, badProxyOption.code(), badProxyOption.toString());
    assertTrue(badProxyOption.err().contains("did you mean --upstream-connections?") && badProxyOption.err().contains("prefetch --help"),
        badProxyOption.toString());

    Path cache = dir.resolve("busy");
    try (PullmeshProxy node = PullmeshProxy.start(ImportTest.offlineNode(cache))) {
      Cli.Result busy = Cli.run("prefetch", "tiny", "--cache-dir", cache.toString());
      assertEquals(2, busy.code(), busy.toString());
      assertTrue(busy.err().contains("in use by a running pullmesh node") && busy.err().contains("admin prefetch"), busy.toString());
    }
  }

  @Test
  void helpListsTheCommandsOptionsAndTheProxys() {
    for (String command : List.of("prefetch", "seed")) {
      Cli.Result r = Cli.run(command, "--help");
      assertEquals(0, r.code(), r.toString());
      assertTrue(r.out().contains("Usage: java -jar pullmesh-seeder.jar " + command), r.toString());
      assertTrue(r.out().contains("--every DURATION") && r.out().contains("--at HH:MM"), r.toString());
      assertTrue(r.out().contains("--mesh-secret-file FILE") && r.out().contains("--cache-dir DIR"), "the proxy's options:\n" + r.out());
    }
  }
}
