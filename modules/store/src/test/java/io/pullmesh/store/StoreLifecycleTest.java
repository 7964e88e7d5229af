package io.pullmesh.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Digest;
import io.pullmesh.core.RepositoryName;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.BitSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Partials that survive restarts, tag history, pins, aliases, eviction and quarantine. */
class StoreLifecycleTest {
  @TempDir Path dir;
  final MutableClock clock = new MutableClock(1_700_000_000_000L);
  static final RepositoryName REPO = RepositoryName.parse("library/tiny");

  /** A clock tests move by hand (stands for wall time). */
  static final class MutableClock extends java.time.Clock {
    long millis;

    MutableClock(long millis) {
      this.millis = millis;
    }

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public java.time.Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis);
    }
  }

  static Digest digest(String s) throws Exception {
    return BlobStoreTest.sha256(s.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void aPartialWithItsPieceMapSurvivesARestartAndOneWithoutDoesNot() throws Exception {
    Digest kept = digest("kept");
    Digest lost = digest("lost");
    try (BlobStore store = BlobStore.open(dir, clock)) {
      try (FileChannel ch = store.openPartial(kept, 100, REPO, 10)) {
        ch.write(ByteBuffer.wrap(new byte[] {7, 7, 7}), 0);
        ch.force(false);
        BitSet done = new BitSet();
        done.set(0);
        store.putPartial(new PartialRecord(kept, REPO, 100, 10, done, clock.millis()));
      }
      store.openPartial(lost, 100, REPO, 10).close();
      // a partial whose piece map is gone (or was never written) cannot be resumed
      Files.delete(store.partialPath(lost).resolveSibling("sha256-" + lost.hex() + ".pieces"));
      assertEquals(200, store.partialBytes());
    }
    try (BlobStore store = BlobStore.open(dir, clock)) {
      PartialRecord r = store.partial(kept).orElseThrow();
      assertEquals(REPO, r.repository());
      assertEquals(10, r.pieceSize());
      assertTrue(r.done().get(0) && !r.done().get(1));
      try (FileChannel ch = store.reopenPartial(r)) {
        ByteBuffer b = ByteBuffer.allocate(3);
        ch.read(b, 0);
        assertArrayEquals(new byte[] {7, 7, 7}, b.array(), "the bytes of a resumable partial are kept");
      }
      assertTrue(store.partial(lost).isEmpty());
      assertFalse(Files.exists(store.partialPath(lost)));
      assertEquals(List.of(kept), store.partials().stream().map(PartialRecord::digest).toList());
      // committing drops the piece map
      try (FileChannel ch = store.reopenPartial(r)) {
        store.commit(kept, 100, ch);
      }
      assertTrue(store.partial(kept).isEmpty());
      assertTrue(store.partials().isEmpty());
    }
  }

  @Test
  void regressionThePrefixOfEachUnfinishedPieceSurvivesARestart() throws Exception {
    // issue 18: only whole pieces were recorded, so a SIGKILL lost every byte of the pieces in flight
    Digest d = digest("prefixes");
    try (BlobStore store = BlobStore.open(dir, clock)) {
      store.openPartial(d, 100, REPO, 10).close();
      BitSet done = new BitSet();
      done.set(0);
      store.putPartial(new PartialRecord(d, REPO, 100, 10, done, clock.millis(), new int[] {0, 7, 0, 3, 0, 0, 0, 0, 0, 0}));
    }
    try (BlobStore store = BlobStore.open(dir, clock)) {
      PartialRecord r = store.partial(d).orElseThrow();
      assertEquals(10, r.onDisk(0), "a done piece is all on disk");
      assertEquals(7, r.onDisk(1));
      assertEquals(3, r.onDisk(3));
      assertEquals(0, r.onDisk(2));
      assertEquals(20, r.bytesOnDisk());
    }
  }

  @Test
  void prefixesWhoseChecksumDoesNotMatchAreReadAsNoneButTheDonePiecesStay() throws Exception {
    Digest d = digest("torn");
    Path map;
    try (BlobStore store = BlobStore.open(dir, clock)) {
      store.openPartial(d, 100, REPO, 10).close();
      BitSet done = new BitSet();
      done.set(2);
      store.putPartial(new PartialRecord(d, REPO, 100, 10, done, clock.millis(), new int[] {5, 0, 0, 0, 0, 0, 0, 0, 0, 9}));
      map = store.partialPath(d).resolveSibling("sha256-" + d.hex() + ".pieces");
    }
    // a torn rewrite: one byte of the prefixes changed, the CRC no longer matches
    byte[] bytes = Files.readAllBytes(map);
    bytes[bytes.length - 8] ^= 1;
    Files.write(map, bytes);
    try (BlobStore store = BlobStore.open(dir, clock)) {
      PartialRecord r = store.partial(d).orElseThrow();
      assertTrue(r.done().get(2));
      assertEquals(10, r.bytesOnDisk(), "only the done piece is trusted");
    }
  }

  @Test
  void aPieceMapWhoseFileChangedSizeIsDropped() throws Exception {
    Digest d = digest("resized");
    try (BlobStore store = BlobStore.open(dir, clock)) {
      store.openPartial(d, 100, REPO, 10).close();
      store.putPartial(new PartialRecord(d, REPO, 100, 10, new BitSet(), clock.millis()));
      Files.write(store.partialPath(d), new byte[5]);
      assertTrue(store.partial(d).isEmpty(), "not resumable when the file is not the recorded size");
    }
    try (BlobStore store = BlobStore.open(dir, clock)) {
      assertTrue(store.partials().isEmpty());
      assertFalse(Files.exists(store.partialPath(d)));
    }
  }

  @Test
  void aTornOrForeignPieceMapIsNotTrusted() throws Exception {
    Digest d = digest("torn");
    try (BlobStore store = BlobStore.open(dir, clock)) {
      store.openPartial(d, 100, REPO, 10).close();
      Path pieces = store.partialPath(d).resolveSibling("sha256-" + d.hex() + ".pieces");
      byte[] bytes = Files.readAllBytes(pieces);
      bytes[0] = 'X';
      Files.write(pieces, bytes);
      assertTrue(store.partial(d).isEmpty(), "a piece map without its magic is ignored");
      Files.write(pieces, new byte[] {'P', 'M'});
      assertTrue(store.partial(d).isEmpty(), "a truncated piece map is ignored");
    }
  }

  @Test
  void tagHistoryRemembersEveryDigestOnce() throws Exception {
    Digest a = digest("a");
    Digest b = digest("b");
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Catalog c = store.catalog();
      c.putTag(new TagRecord(REPO, "latest", a, 1000));
      c.putTag(new TagRecord(REPO, "latest", a, 2000));
      c.putTag(new TagRecord(REPO, "latest", b, 3000));
      c.putTag(new TagRecord(REPO, "latest", a, 4000));
      c.putTag(new TagRecord(REPO, "lat", b, 5000));
      assertEquals(List.of(new TagEvent(a, 1000), new TagEvent(b, 3000), new TagEvent(a, 4000)), c.tagHistory(REPO, "latest"));
      assertEquals(List.of(new TagEvent(b, 5000)), c.tagHistory(REPO, "lat"), "a tag whose name is a prefix of another has its own history");
      assertEquals(2, c.tags().size());
    }
  }

  @Test
  void pinsProtectTheManifestAndBlobsTheirTagPointsTo() throws Exception {
    Digest manifest = digest("manifest");
    Digest layer = digest("layer");
    Digest config = digest("config");
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Catalog c = store.catalog();
      c.putManifest(new ManifestRecord(manifest, "t", new byte[] {1}, 1, List.of(layer, config)));
      c.putTag(new TagRecord(REPO, "latest", manifest, 1));
      assertTrue(c.pinnedDigests().isEmpty());
      c.pin(new Pin(REPO, "latest", 5));
      c.pin(new Pin(REPO, "not-cached-yet", 6));
      assertEquals(Set.of(manifest, layer, config), c.pinnedDigests());
      assertEquals(2, c.pins().size());
      assertTrue(c.unpin(REPO, "latest"));
      assertFalse(c.unpin(REPO, "latest"));
      assertTrue(c.pinnedDigests().isEmpty());
    }
  }

  @Test
  void aPinnedAliasProtectsWhatItServesAndOtherTagsAreTold() throws Exception {
    Digest m1 = digest("manifest-1");
    Digest m2 = digest("manifest-2");
    Digest shared = digest("shared-layer");
    Digest own = digest("own-layer");
    Digest other = digest("other-layer");
    RepositoryName qwen = RepositoryName.parse("library/qwen2.5");
    RepositoryName team = RepositoryName.parse("team/default");
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Catalog c = store.catalog();
      c.putManifest(new ManifestRecord(m1, "t", new byte[] {1}, 1, List.of(shared, own)));
      c.putManifest(new ManifestRecord(m2, "t", new byte[] {2}, 1, List.of(shared, other)));
      c.putTag(new TagRecord(qwen, "7b", m1, 1));
      c.putTag(new TagRecord(REPO, "latest", m2, 1));
      c.putAlias(new Alias(team, "latest", qwen, "7b", null, 1));
      c.pin(new Pin(team, "latest", 5));
      assertEquals(Set.of(m1, shared, own), c.pinnedDigests(), "the alias's target tag is protected");
      c.putAlias(new Alias(team, "latest", REPO, null, m2, 2));
      assertEquals(Set.of(m2, shared, other), c.pinnedDigests(), "an alias fixed to a digest protects that manifest");
      assertEquals(Set.of(m2, shared, other), c.digestsOfOtherTags(qwen, "7b"));
      assertEquals(Set.of(m1, shared, own), c.digestsOfOtherTags(REPO, "latest"));
    }
  }

  @Test
  void aliasesRoundTrip() throws Exception {
    Digest d = digest("m");
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Catalog c = store.catalog();
      RepositoryName team = RepositoryName.parse("team/default");
      c.putAlias(new Alias(team, "latest", RepositoryName.parse("library/qwen2.5"), "7b", null, 1));
      c.putAlias(new Alias(team, "fixed", RepositoryName.parse("library/qwen2.5"), null, d, 2));
    }
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Catalog c = store.catalog();
      Alias a = c.alias(RepositoryName.parse("team/default"), "latest").orElseThrow();
      assertEquals("library/qwen2.5:7b", a.target());
      assertEquals("library/qwen2.5@" + d, c.alias(RepositoryName.parse("team/default"), "fixed").orElseThrow().target());
      assertEquals(2, c.aliases().size());
      assertTrue(c.removeAlias(RepositoryName.parse("team/default"), "latest"));
      assertEquals(1, c.aliases().size());
    }
    assertThrows(IllegalArgumentException.class, () -> new Alias(REPO, "x", REPO, "y", digest("z"), 0));
  }

  @Test
  void aTagsVersionGateSurvivesARestartAndATagNeverRefusedIsOpen() throws Exception {
    RepositoryName hf = RepositoryName.parse("hf.co/bartowski/Tiny-GGUF");
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Catalog c = store.catalog();
      assertEquals(io.pullmesh.core.VersionGate.OPEN, c.gate(REPO, "latest"));
      c.putGate(REPO, "latest", io.pullmesh.core.VersionGate.OPEN
          .refused(io.pullmesh.core.OllamaVersion.parse("0.9.3"), "requires a newer version of Ollama")
          .accepted(io.pullmesh.core.OllamaVersion.parse("0.13.5")));
      c.putGate(hf, "Q4_K_M", io.pullmesh.core.VersionGate.OPEN.accepted(io.pullmesh.core.OllamaVersion.parse("0.12.0-rc1")));
    }
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Catalog c = store.catalog();
      io.pullmesh.core.VersionGate g = c.gate(REPO, "latest");
      assertEquals("0.9.3", g.newestRefused().toString());
      assertEquals("0.13.5", g.oldestAccepted().toString());
      assertEquals("requires a newer version of Ollama", g.refusal());
      assertEquals("0.12.0-rc1", c.gate(hf, "Q4_K_M").oldestAccepted().toString());
      assertEquals(io.pullmesh.core.VersionGate.OPEN, c.gate(RepositoryName.parse("hf.co/bartowski/tiny-gguf"), "Q4_K_M"));
    }
  }

  @Test
  void evictAndQuarantine() throws Exception {
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Digest a = BlobStoreTest.put(store, "evict me".getBytes(StandardCharsets.UTF_8));
      Digest b = BlobStoreTest.put(store, "rotten".getBytes(StandardCharsets.UTF_8));
      assertEquals(2, store.committedBlobs());
      assertEquals(8, store.evict(a));
      assertEquals(0, store.evict(a));
      assertFalse(Files.exists(store.blobPath(a)));
      assertTrue(store.lookup(a).isEmpty());
      store.quarantine(b);
      assertTrue(store.lookup(b).isEmpty());
      assertTrue(Files.exists(store.root().resolve("quarantine/sha256-" + b.hex())));
      assertEquals(0, store.committedBlobs());
      assertEquals(0, store.committedBytes());
      assertEquals(0, store.blobs().size());
    }
  }
}
