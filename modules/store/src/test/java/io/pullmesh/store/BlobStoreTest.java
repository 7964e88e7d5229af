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
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BlobStoreTest {
  @TempDir Path dir;
  final Clock clock = Clock.fixed(Instant.ofEpochMilli(1_700_000_000_000L), ZoneOffset.UTC);

  static Digest sha256(byte[] b) throws Exception {
    return Digest.ofBytes(MessageDigest.getInstance("SHA-256").digest(b));
  }

  /** Writes {@code data} through a partial file and commits it, as a download does. */
  static Digest put(BlobStore store, byte[] data) throws Exception {
    Digest d = sha256(data);
    try (FileChannel ch = store.openPartial(d, data.length, io.pullmesh.core.RepositoryName.parse("library/t"), 1 << 20)) {
      ch.write(ByteBuffer.wrap(data), 0);
      store.commit(d, data.length, ch);
    }
    return d;
  }

  @Test
  void commitPublishesAtomicallyAndIndexes() throws Exception {
    byte[] data = "hello blob".getBytes(StandardCharsets.UTF_8);
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Digest d = sha256(data);
      assertTrue(store.lookup(d).isEmpty());
      try (FileChannel ch = store.openPartial(d, data.length, io.pullmesh.core.RepositoryName.parse("library/t"), 1 << 20)) {
        assertEquals(data.length, Files.size(store.partialPath(d)));
        assertFalse(Files.exists(store.blobPath(d)), "not visible as committed before commit");
        ch.write(ByteBuffer.wrap(data), 0);
        BlobRecord r = store.commit(d, data.length, ch);
        assertEquals(data.length, r.size());
        // a reader holding the channel keeps reading after the rename
        ByteBuffer back = ByteBuffer.allocate(data.length);
        ch.read(back, 0);
        assertArrayEquals(data, back.array());
      }
      assertFalse(Files.exists(store.partialPath(d)));
      assertArrayEquals(data, Files.readAllBytes(store.blobPath(d)));
      assertEquals("r--r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(store.blobPath(d))));
      assertEquals(store.root().resolve("blobs/sha256/" + d.hex().substring(0, 2) + "/" + d.hex()), store.blobPath(d));
      assertEquals(data.length, store.lookup(d).orElseThrow().size());
      assertEquals(1, store.committedBlobs());
      assertEquals(data.length, store.committedBytes());
    }
  }

  @Test
  void indexSurvivesReopen() throws Exception {
    RepositoryName repo = RepositoryName.parse("library/tiny");
    byte[] manifest = "{\"schemaVersion\":2}".getBytes(StandardCharsets.UTF_8);
    Digest md = sha256(manifest);
    Digest blob;
    try (BlobStore store = BlobStore.open(dir, clock)) {
      blob = put(store, new byte[] {1, 2, 3});
      store.recordHit(blob);
      store.recordHit(blob);
      store.catalog().putManifest(new ManifestRecord(md, "application/vnd.docker.distribution.manifest.v2+json", manifest, 42, java.util.List.of(blob)));
      store.catalog().putTag(new TagRecord(repo, "latest", md, 43));
      store.catalog().putSizeHint(blob, 3);
    }
    try (BlobStore store = BlobStore.open(dir, clock)) {
      BlobRecord r = store.lookup(blob).orElseThrow();
      assertEquals(2, r.hits());
      assertEquals(clock.millis(), r.lastAccess());
      ManifestRecord m = store.catalog().manifest(md).orElseThrow();
      assertEquals(java.util.List.of(blob), m.references());
      assertArrayEquals(manifest, m.bytes());
      assertEquals("application/vnd.docker.distribution.manifest.v2+json", m.contentType());
      assertEquals(42, m.fetchedAt());
      TagRecord t = store.catalog().tag(repo, "latest").orElseThrow();
      assertEquals(md, t.digest());
      assertEquals(43, t.checkedAt());
      assertTrue(store.catalog().tag(repo, "other").isEmpty());
      assertEquals(3, store.catalog().sizeHint(blob).getAsLong());
      assertEquals(1, store.committedBlobs());
    }
  }

  @Test
  void secondProcessIsRefused() {
    try (BlobStore store = BlobStore.open(dir, clock)) {
      CacheUnusableException e = assertThrows(CacheInUseException.class, () -> BlobStore.open(dir, clock));
      assertTrue(e.getMessage().contains("in use by another pullmesh process"), e.getMessage());
    }
    // and the lock is released on close
    BlobStore.open(dir, clock).close();
  }

  @Test
  void fileInPlaceOfDirectoryIsExplained() throws Exception {
    Path file = dir.resolve("not-a-dir");
    Files.writeString(file, "x");
    CacheUnusableException e = assertThrows(CacheUnusableException.class, () -> BlobStore.open(file.resolve("cache"), clock));
    assertTrue(e.getMessage().toLowerCase().contains("not a directory") && e.getMessage().contains("--cache-dir"), e.getMessage());
    CacheUnusableException e2 = assertThrows(CacheUnusableException.class, () -> BlobStore.open(file, clock));
    assertTrue(e2.getMessage().contains("--cache-dir"), e2.getMessage());
  }

  @Test
  void startupReconcilesFilesAndIndex() throws Exception {
    byte[] data = "committed but not indexed".getBytes(StandardCharsets.UTF_8);
    Digest orphan = sha256(data);
    Digest gone;
    try (BlobStore store = BlobStore.open(dir, clock)) {
      gone = put(store, new byte[] {9, 9});
      // a crash between rename and index write leaves a committed file with no record
      Path p = store.blobPath(orphan);
      Files.createDirectories(p.getParent());
      Files.write(p, data);
      // a half-written download
      Files.write(store.partialPath(orphan), new byte[] {0, 0, 0});
    }
    Files.delete(dir.resolve("blobs/sha256/" + gone.hex().substring(0, 2) + "/" + gone.hex()));
    try (BlobStore store = BlobStore.open(dir, clock)) {
      assertEquals(data.length, store.lookup(orphan).orElseThrow().size());
      assertTrue(store.lookup(gone).isEmpty());
      assertFalse(Files.exists(store.partialPath(orphan)), "a partial file without a piece map is discarded at start");
      assertEquals(1, store.committedBlobs());
      assertEquals(data.length, store.committedBytes());
    }
  }

  @Test
  void lookupDropsARecordWhoseFileChanged() throws Exception {
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Digest d = put(store, new byte[] {1, 2, 3, 4});
      Path p = store.blobPath(d);
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-r--r--"));
      Files.write(p, new byte[] {1});
      assertTrue(store.lookup(d).isEmpty());
      assertEquals(0, store.committedBlobs());
    }
  }

  @Test
  void discardPartialRemovesIt() throws Exception {
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Digest d = sha256(new byte[] {5});
      store.openPartial(d, 100, io.pullmesh.core.RepositoryName.parse("library/t"), 10).close();
      assertTrue(Files.exists(store.partialPath(d)));
      store.discardPartial(d);
      assertFalse(Files.exists(store.partialPath(d)));
    }
  }
}
