package io.pullmesh.seeder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.RepositoryName;
import io.pullmesh.proxy.ProxyConfig;
import io.pullmesh.proxy.PullmeshProxy;
import io.pullmesh.store.BlobRecord;
import io.pullmesh.store.BlobStore;
import io.pullmesh.store.ManifestRecord;
import io.pullmesh.store.TagRecord;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.client.PullResult;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code import}: an Ollama models directory into a cache, every blob verified before it is committed. */
class ImportTest {
  @TempDir Path dir;

  static FakeModel small(Path ollama, String repo, String tag, long seed) {
    return ModelFixture.of(repo, tag).layer(MediaTypes.MODEL, 1 << 20).layer(MediaTypes.TEMPLATE, 211).layer(MediaTypes.PARAMS, 64)
        .seed(seed).create(ollama);
  }

  /** The cache holds the model as the proxy would after pulling it: blobs committed, manifest stored and tagged. */
  static void assertImported(Path cache, FakeModel... models) throws Exception {
    try (BlobStore store = BlobStore.open(cache, Clock.systemUTC())) {
      for (FakeModel m : models) {
        for (FakeBlob b : m.blobs()) {
          Optional<BlobRecord> r = store.lookup(b.digest());
          assertTrue(r.isPresent(), m + ": " + b.digest() + " committed");
          assertEquals(b.size(), r.get().size());
          assertArrayEquals(Files.readAllBytes(b.file()), Files.readAllBytes(store.blobPath(b.digest())), "bytes of " + b.digest());
          assertEquals(b.size(), store.catalog().sizeHint(b.digest()).orElseThrow(), "size hint of " + b.digest());
        }
        TagRecord t = store.catalog().tag(RepositoryName.parse(m.repository()), m.tag()).orElseThrow(() -> new AssertionError(m + " tagged"));
        assertEquals(m.manifestDigest(), t.digest());
        ManifestRecord rec = store.catalog().manifest(m.manifestDigest()).orElseThrow();
        assertArrayEquals(m.manifestBytes(), rec.bytes(), "manifest bytes unchanged");
        assertEquals(MediaTypes.MANIFEST_V2, rec.contentType());
        List<io.pullmesh.core.Digest> refs = new java.util.ArrayList<>();
        refs.add(m.config().digest());
        m.layers().forEach(l -> refs.add(l.digest()));
        assertEquals(refs, rec.references(), "blob list as ManifestService records it: config, then layers");
      }
      try (Stream<Path> partial = Files.list(cache.resolve("partial"))) {
        assertEquals(0, partial.count(), "no partial files left");
      }
    }
  }

  static ProxyConfig offlineNode(Path cache) {
    return ((ProxyConfig.Run) ProxyConfig.parse(new String[] {"--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1",
        "--cache-dir", cache.toString(), "--intercept-hosts", "none"}, Map.of())).config();
  }

  @Test
  void importsAnOllamaModelsDirectoryAndANodeOnThatCacheServesItWithoutUpstream() throws Exception {
    Path ollama = dir.resolve("ollama");
    FakeModel tiny = ModelFixture.tiny().seed(3).create(ollama);
    FakeModel other = small(ollama, "someone/other", "q4", 5);
    Cli.writeManifests(ollama, tiny, other);
    Path cache = dir.resolve("cache");

    Cli.Result r = Cli.run("import", ollama.toString(), "--cache-dir", cache.toString());
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.out().contains("2 model(s) imported"), r.toString());
    assertTrue(r.out().contains("tiny:latest") && r.out().contains("someone/other:q4"), r.toString());
    assertTrue(r.out().contains("blobs: 8 imported"), r.toString());
    assertImported(cache, tiny, other);

    Cli.Result again = Cli.run("import", ollama.toString(), "--cache-dir", cache.toString());
    assertEquals(0, again.code(), again.toString());
    assertTrue(again.out().contains("blobs: 0 imported (0 B), 8 already in the cache"), again.toString());

    // upstream is a closed port: everything comes from the imported cache
    try (PullmeshProxy node = PullmeshProxy.start(offlineNode(cache));
        OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
      for (FakeModel m : List.of(tiny, other)) {
        PullResult pulled = client.pull(node.url(), m.reference(), dir.resolve("client"));
        assertEquals(m.manifestDigest(), pulled.manifestDigest());
        for (FakeBlob b : m.blobs()) {
          assertArrayEquals(Files.readAllBytes(b.file()), Files.readAllBytes(dir.resolve("client/blobs/sha256-" + b.digest().hex())));
        }
      }
    }
  }

  @Test
  void aBlobWhoseBytesDoNotMatchItsNameIsRefusedAndItsModelNotImported() throws Exception {
    Path ollama = dir.resolve("ollama");
    FakeModel good = small(ollama, "library/good", "latest", 11);
    FakeModel bad = small(ollama, "library/bad", "7b", 12);
    Cli.writeManifests(ollama, good, bad);
    FakeBlob corrupt = bad.largestLayer();
    try (RandomAccessFile f = new RandomAccessFile(corrupt.file().toFile(), "rw")) {
      f.seek(corrupt.size() / 2);
      int b = f.read();
      f.seek(corrupt.size() / 2);
      f.write(b ^ 0x01);
    }
    Path cache = dir.resolve("cache");

    Cli.Result r = Cli.run("import", ollama.toString(), "--cache-dir", cache.toString());
    assertEquals(1, r.code(), r.toString());
    assertTrue(r.err().contains("refused blob " + corrupt.digest()) && r.err().contains("hashes to"), r.toString());
    assertTrue(r.err().contains("model bad:7b not imported") && r.err().contains(corrupt.digest().toString()), r.toString());
    assertTrue(r.out().contains("1 model(s) imported") && r.out().contains("good:latest") && r.out().contains("1 refused"), r.toString());

    assertImported(cache, good);
    try (BlobStore store = BlobStore.open(cache, Clock.systemUTC())) {
      assertTrue(store.lookup(corrupt.digest()).isEmpty(), "the corrupt blob is not committed");
      assertFalse(Files.exists(store.blobPath(corrupt.digest())), "no file under blobs/ for it");
      assertFalse(Files.exists(store.partialPath(corrupt.digest())), "no partial file left for it");
      assertTrue(store.catalog().tag(RepositoryName.parse("library/bad"), "7b").isEmpty(), "its model is not tagged");
      assertTrue(store.catalog().manifest(bad.manifestDigest()).isEmpty(), "nor its manifest stored");
      // the blobs of the refused model that were fine are in the cache (a later import or pull uses them)
      assertTrue(store.lookup(bad.config().digest()).isPresent());
    }
  }

  @Test
  void aTruncatedOrMissingBlobIsRefusedBeforeAnyCopy() throws Exception {
    Path ollama = dir.resolve("ollama");
    FakeModel cut = small(ollama, "library/cut", "latest", 21);
    FakeModel gone = small(ollama, "library/gone", "latest", 22);
    Cli.writeManifests(ollama, cut, gone);
    FakeBlob truncated = cut.largestLayer();
    try (RandomAccessFile f = new RandomAccessFile(truncated.file().toFile(), "rw")) {
      f.setLength(truncated.size() - 1000);
    }
    FakeBlob missing = gone.layers().get(1);
    Files.delete(missing.file());
    Path cache = dir.resolve("cache");

    Cli.Result r = Cli.run("import", ollama.toString(), "--cache-dir", cache.toString());
    assertEquals(1, r.code(), r.toString());
    assertTrue(r.err().contains("refused blob " + truncated.digest()) && r.err().contains("(truncated)"), r.toString());
    assertTrue(r.err().contains("refused blob " + missing.digest()) && r.err().contains("missing"), r.toString());
    assertTrue(r.err().contains("model cut:latest not imported") && r.err().contains("model gone:latest not imported"), r.toString());
    try (BlobStore store = BlobStore.open(cache, Clock.systemUTC())) {
      assertTrue(store.lookup(truncated.digest()).isEmpty());
      assertTrue(store.lookup(missing.digest()).isEmpty());
      assertTrue(store.catalog().tags().isEmpty(), "no model tagged");
    }
  }

  @Test
  void manifestsOfAnotherRegistryHostAreImportedOnlyWhenAskedFor() throws Exception {
    Path ollama = dir.resolve("ollama");
    FakeModel m = small(ollama, "library/lan", "latest", 31);
    Cli.writeManifest(ollama, "mirror.lan:9200/library/lan/latest", m);
    Path cache = dir.resolve("cache");

    Cli.Result r = Cli.run("import", ollama.toString(), "--cache-dir", cache.toString());
    assertEquals(1, r.code(), r.toString());
    assertTrue(r.err().contains("no models of registry.ollama.ai") && r.err().contains("mirror.lan:9200") && r.err().contains("--registry-host"),
        r.toString());

    Cli.Result ok = Cli.run("import", ollama.getParent().resolve("ollama").toString(), "--cache-dir", cache.toString(),
        "--registry-host", "mirror.lan:9200");
    assertEquals(0, ok.code(), ok.toString());
    assertImported(cache, m);
  }

  @Test
  void aHuggingFaceModelIsImportedUnderItsHostQualifiedNameWithItsCapitalsAndExportedBackThere() throws Exception {
    Path ollama = dir.resolve("ollama");
    FakeModel m = small(ollama, "bartowski/tiny-gguf", "Q4_K_M", 41);
    Cli.writeManifest(ollama, "hf.co/bartowski/Tiny-GGUF/Q4_K_M", m);
    Path cache = dir.resolve("cache");

    Cli.Result r = Cli.run("import", ollama.toString(), "--cache-dir", cache.toString());
    assertEquals(0, r.code(), r.toString());
    try (BlobStore store = BlobStore.open(cache, Clock.systemUTC())) {
      TagRecord t = store.catalog().tag(RepositoryName.parse("hf.co/bartowski/Tiny-GGUF"), "Q4_K_M").orElseThrow(() -> new AssertionError(r));
      assertEquals(m.manifestDigest(), t.digest());
      assertTrue(store.catalog().tag(RepositoryName.parse("bartowski/Tiny-GGUF"), "Q4_K_M").isEmpty(), "not as a registry.ollama.ai name");
    }

    Path out = dir.resolve("out");
    Cli.Result e = Cli.run("export", "hf.co/bartowski/Tiny-GGUF:Q4_K_M", out.toString(), "--cache-dir", cache.toString());
    assertEquals(0, e.code(), e.toString());
    assertArrayEquals(m.manifestBytes(), Files.readAllBytes(out.resolve("manifests/hf.co/bartowski/Tiny-GGUF/Q4_K_M")),
        "exported under its own host, as Ollama keeps it");
  }

  @Test
  void usageErrorsSayWhatToFix() throws Exception {
    Cli.Result none = Cli.run("import");
    assertEquals(2, none.code(), none.toString());
    assertTrue(none.err().contains("name the Ollama models directory"), none.toString());

    Path empty = Files.createDirectories(dir.resolve("empty"));
    Cli.Result notOllama = Cli.run("import", empty.toString(), "--cache-dir", dir.resolve("c").toString());
    assertEquals(2, notOllama.code(), notOllama.toString());
    assertTrue(notOllama.err().contains("is not an Ollama models directory") && notOllama.err().contains("~/.ollama/models"),
        notOllama.toString());

    Cli.Result badOption = Cli.run("import", empty.toString(), "--cache", "x");
    assertEquals(2, badOption.code(), badOption.toString());
    assertTrue(badOption.err().contains("unknown option --cache"), badOption.toString());

    Path ollama = dir.resolve("ollama");
    FakeModel m = small(ollama, "library/busy", "latest", 41);
    Cli.writeManifests(ollama, m);
    Path cache = dir.resolve("busy-cache");
    try (PullmeshProxy node = PullmeshProxy.start(offlineNode(cache))) {
      Cli.Result busy = Cli.run("import", ollama.toString(), "--cache-dir", cache.toString());
      assertEquals(2, busy.code(), busy.toString());
      assertTrue(busy.err().contains("in use by a running pullmesh node") && busy.err().contains("stop it")
          && busy.err().contains("another --cache-dir"), busy.toString());
    }
  }
}
