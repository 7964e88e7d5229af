package io.pullmesh.seeder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Digest;
import io.pullmesh.store.BlobStore;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.ModelFixture;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code export}: models of a cache as an Ollama models directory, exactly Ollama's layout and bytes. */
class ExportTest {
  @TempDir Path dir;

  private static Set<String> files(Path root) throws Exception {
    try (Stream<Path> s = Files.walk(root)) {
      return s.filter(Files::isRegularFile).map(p -> root.relativize(p).toString()).collect(Collectors.toCollection(TreeSet::new));
    }
  }

  private static Set<String> layout(FakeModel... models) {
    Set<String> out = new TreeSet<>();
    for (FakeModel m : models) {
      out.add("manifests/registry.ollama.ai/" + m.repository() + "/" + m.tag());
      for (FakeBlob b : m.blobs()) {
        out.add("blobs/sha256-" + b.digest().hex());
      }
    }
    return out;
  }

  /** A cache holding the models, imported from a generated Ollama directory. */
  private Path cacheWith(Path ollama, FakeModel... models) throws Exception {
    Cli.writeManifests(ollama, models);
    Path cache = dir.resolve("cache");
    Cli.Result r = Cli.run("import", ollama.toString(), "--cache-dir", cache.toString());
    assertEquals(0, r.code(), r.toString());
    return cache;
  }

  @Test
  void writesOllamasLayoutWithExactBytesAndImportOfTheExportRoundTrips() throws Exception {
    Path ollama = dir.resolve("ollama");
    FakeModel tiny = ModelFixture.tiny().seed(8).create(ollama);
    FakeModel other = ImportTest.small(ollama, "someone/other", "q4", 9);
    FakeModel notExported = ImportTest.small(ollama, "library/left", "out", 10);
    Path cache = cacheWith(ollama, tiny, other, notExported);

    Path out = dir.resolve("usb/models");
    Cli.Result r = Cli.run("export", "tiny", "someone/other:q4", out.toString(), "--cache-dir", cache.toString());
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.out().contains("2 model(s) written") && r.out().contains("OLLAMA_MODELS="), r.toString());

    assertEquals(layout(tiny, other), files(out), "exactly the manifests and blobs, no temporary files");
    for (FakeModel m : new FakeModel[] {tiny, other}) {
      assertArrayEquals(m.manifestBytes(), Files.readAllBytes(out.resolve("manifests/registry.ollama.ai/" + m.repository() + "/" + m.tag())));
      for (FakeBlob b : m.blobs()) {
        assertArrayEquals(Files.readAllBytes(b.file()), Files.readAllBytes(out.resolve("blobs/sha256-" + b.digest().hex())));
      }
    }

    // exporting again keeps what is there
    Cli.Result again = Cli.run("export", "tiny:latest", out.toString(), "--cache-dir", cache.toString());
    assertEquals(0, again.code(), again.toString());
    assertTrue(again.out().contains("0 written (0 B), 4 already there"), again.toString());

    // import(export(x)) into a fresh cache gives the same models
    Path second = dir.resolve("cache2");
    Cli.Result back = Cli.run("import", out.toString(), "--cache-dir", second.toString());
    assertEquals(0, back.code(), back.toString());
    ImportTest.assertImported(second, tiny, other);
    try (BlobStore store = BlobStore.open(second, Clock.systemUTC())) {
      assertEquals(2, store.catalog().tags().size());
      for (FakeBlob b : notExported.layers()) {
        assertTrue(store.lookup(b.digest()).isEmpty(), "a model not exported is not there");
      }
    }
  }

  @Test
  void refusesNamesTheCacheDoesNotHoldAndWritesNothing() throws Exception {
    Path ollama = dir.resolve("ollama");
    FakeModel tiny = ModelFixture.tiny().create(ollama);
    Path cache = cacheWith(ollama, tiny);
    Path out = dir.resolve("out");

    Cli.Result r = Cli.run("export", "tiny", "qwen2.5:7b", out.toString(), "--cache-dir", cache.toString());
    assertEquals(1, r.code(), r.toString());
    assertTrue(r.err().contains("qwen2.5:7b is not in the cache") && r.err().contains("nothing written")
        && r.err().contains("holds: tiny:latest"), r.toString());
    assertFalse(Files.exists(out), "nothing written");

    Cli.Result noCache = Cli.run("export", "tiny", out.toString(), "--cache-dir", dir.resolve("nowhere").toString());
    assertEquals(2, noCache.code(), noCache.toString());
    assertTrue(noCache.err().contains("no pullmesh cache at"), noCache.toString());

    Cli.Result noDir = Cli.run("export", "tiny", "--cache-dir", cache.toString());
    assertEquals(2, noDir.code(), noDir.toString());
    assertTrue(noDir.err().contains("name the models and then the directory"), noDir.toString());

    Cli.Result badName = Cli.run("export", "Not A Name", out.toString(), "--cache-dir", cache.toString());
    assertEquals(2, badName.code(), badName.toString());
    assertTrue(badName.err().contains("not a valid model name"), badName.toString());
  }

  @Test
  void aCachedBlobThatNoLongerMatchesItsDigestIsNotWritten() throws Exception {
    Path ollama = dir.resolve("ollama");
    FakeModel tiny = ModelFixture.tiny().seed(4).create(ollama);
    Path cache = cacheWith(ollama, tiny);
    Digest rotten = tiny.largestLayer().digest();
    try (BlobStore store = BlobStore.open(cache, Clock.systemUTC())) {
      Path f = store.blobPath(rotten);
      f.toFile().setWritable(true);
      try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
        raf.seek(10);
        int b = raf.read();
        raf.seek(10);
        raf.write(b ^ 0xff);
      }
    }
    Path out = dir.resolve("out");
    Cli.Result r = Cli.run("export", "tiny", out.toString(), "--cache-dir", cache.toString());
    assertEquals(1, r.code(), r.toString());
    assertTrue(r.err().contains("tiny:latest not exported: " + rotten + " (the cached copy no longer matches its digest")
        && r.err().contains("verify"), r.toString());
    assertTrue(r.out().contains("0 model(s) written") && r.out().contains("blobs: 3 written (" + io.pullmesh.core.Bytes.human(tiny.totalBytes()
        - tiny.largestLayer().size()) + ")"), r.toString());
    assertFalse(Files.exists(out.resolve("blobs/sha256-" + rotten.hex())));
    assertFalse(Files.exists(out.resolve("manifests")), "no manifest without its blobs");
  }
}
