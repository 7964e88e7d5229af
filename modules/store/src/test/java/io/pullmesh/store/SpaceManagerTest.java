package io.pullmesh.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.store.eviction.LruPolicy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SpaceManagerTest {
  @TempDir Path dir;
  final StoreLifecycleTest.MutableClock clock = new StoreLifecycleTest.MutableClock(1_000_000);
  final List<SpaceManager.Eviction> evicted = new ArrayList<>();

  private Digest put(BlobStore store, int size, long at) throws Exception {
    clock.millis = at;
    byte[] data = new byte[size];
    data[0] = (byte) at;
    data[1] = (byte) (at >> 8);
    return BlobStoreTest.put(store, data);
  }

  private SpaceManager space(BlobStore store, long limit) {
    return new SpaceManager(store, new LruPolicy(), () -> limit, clock, (e, why) -> evicted.add(e));
  }

  @Test
  void reservingEvictsTheLeastValuableUntilItFits() throws Exception {
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Digest oldest = put(store, 400, 1);
      Digest middle = put(store, 400, 2);
      Digest newest = put(store, 400, 3);
      SpaceManager space = space(store, 1500);
      space.reserve(BlobStoreTest.sha256(new byte[] {42}), 500);
      assertEquals(List.of(oldest), evicted.stream().map(SpaceManager.Eviction::digest).toList());
      assertTrue(store.lookup(middle).isPresent() && store.lookup(newest).isPresent());
      assertEquals(500, space.reserved());
      assertEquals(1300, space.used());
    }
  }

  @Test
  void pinnedInUseAndReservedBlobsAreNeverChosen() throws Exception {
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Digest pinned = put(store, 400, 1);
      Digest served = put(store, 400, 2);
      Digest free = put(store, 400, 3);
      Digest manifest = BlobStoreTest.sha256(new byte[] {9});
      store.catalog().putManifest(new ManifestRecord(manifest, "t", new byte[] {1}, 1, List.of(pinned)));
      store.catalog().putTag(new TagRecord(RepositoryName.parse("library/p"), "latest", manifest, 1));
      store.catalog().pin(new Pin(RepositoryName.parse("library/p"), "latest", 1));
      SpaceManager space = space(store, 1200);
      try (SpaceManager.Lease lease = space.use(served)) {
        space.reserve(BlobStoreTest.sha256(new byte[] {1}), 400);
        assertEquals(List.of(free), evicted.stream().map(SpaceManager.Eviction::digest).toList());
        RegistryException full = assertThrows(RegistryException.class, () -> space.reserve(BlobStoreTest.sha256(new byte[] {2}), 400));
        assertEquals(ErrorCode.INSUFFICIENT_STORAGE, full.code());
        assertEquals(507, full.status());
        RegistryException refused = assertThrows(RegistryException.class, () -> space.evictNow(served));
        assertEquals(409, refused.status());
        assertEquals(409, assertThrows(RegistryException.class, () -> space.evictNow(pinned)).status());
      }
      assertFalse(space.inUse(served));
      assertEquals(400, space.evictNow(served));
    }
  }

  @Test
  void aBlobLargerThanTheLimitIsRefused() throws Exception {
    try (BlobStore store = BlobStore.open(dir, clock)) {
      RegistryException e = assertThrows(RegistryException.class, () -> space(store, 100).reserve(BlobStoreTest.sha256(new byte[] {3}), 101));
      assertTrue(e.getMessage().contains("--cache-max-bytes"), e.getMessage());
    }
  }

  @Test
  void enforceAfterTheLimitShrinks() throws Exception {
    try (BlobStore store = BlobStore.open(dir, clock)) {
      put(store, 400, 1);
      put(store, 400, 2);
      put(store, 400, 3);
      AtomicLong limit = new AtomicLong(5000);
      SpaceManager space = new SpaceManager(store, new LruPolicy(), limit::get, clock, (e, why) -> evicted.add(e));
      space.enforce();
      assertTrue(evicted.isEmpty());
      limit.set(500);
      space.enforce();
      assertEquals(2, evicted.size());
      assertEquals(400, store.committedBytes());
    }
  }

  @Test
  void concurrentUsesAndReleasesNeverLeakACount() throws Exception {
    try (BlobStore store = BlobStore.open(dir, clock)) {
      SpaceManager space = space(store, 1000);
      Digest d = BlobStoreTest.sha256(new byte[] {5});
      ExecutorService pool = Executors.newFixedThreadPool(8);
      CountDownLatch go = new CountDownLatch(1);
      AtomicLong notInUseWhileHeld = new AtomicLong();
      for (int t = 0; t < 8; t++) {
        pool.submit(() -> {
          go.await();
          for (int i = 0; i < 50_000; i++) {
            // overlapping leases, as 16 parallel part requests for one blob hold them
            SpaceManager.Lease a = space.use(d);
            SpaceManager.Lease b = space.use(d);
            a.close();
            if (!space.inUse(d)) {
              notInUseWhileHeld.incrementAndGet();
            }
            b.close();
          }
          return null;
        });
      }
      go.countDown();
      pool.shutdown();
      assertTrue(pool.awaitTermination(120, TimeUnit.SECONDS));
      assertEquals(0, notInUseWhileHeld.get(), "a blob with a lease held must count as in use");
      assertFalse(space.inUse(d), "every use was released");
      SpaceManager.Lease twice = space.use(d);
      twice.close();
      twice.close();
      assertFalse(space.inUse(d), "closing a lease twice releases once");
    }
  }

  private static final long MIB = 1 << 20;

  /** A disk of {@code free} usable bytes, that shrinks as downloads write: stands for the file system under the cache. */
  private SpaceManager onDisk(BlobStore store, long limit, AtomicLong free) {
    return new SpaceManager(store, new LruPolicy(), () -> limit, clock, (e, why) -> evicted.add(e), free::get);
  }

  @Test
  void regressionADownloadTheDiskCannotHoldIsRefusedUpFrontThoughTheLimitAllowsIt() throws Exception {
    // issue 18: on a disk other programs had filled, a blob within --cache-max-bytes got a 200 that broke at ENOSPC
    try (BlobStore store = BlobStore.open(dir, clock)) {
      SpaceManager space = onDisk(store, 1L << 30, new AtomicLong(100 * MIB));
      RegistryException e = assertThrows(RegistryException.class, () -> space.reserve(BlobStoreTest.sha256(new byte[] {1}), 90 * MIB));
      assertEquals(ErrorCode.INSUFFICIENT_STORAGE, e.code());
      assertTrue(e.getMessage().contains("other programs' data counts"), e.getMessage());
      space.reserve(BlobStoreTest.sha256(new byte[] {2}), 80 * MIB);
      assertEquals(80 * MIB, space.reserved(), "what fits beside the index's reserve is reserved");
    }
  }

  @Test
  void bytesPromisedToDownloadsInProgressCountUntilTheyAreWritten() throws Exception {
    try (BlobStore store = BlobStore.open(dir, clock)) {
      AtomicLong free = new AtomicLong(100 * MIB);
      SpaceManager space = onDisk(store, 1L << 30, free);
      Digest a = BlobStoreTest.sha256(new byte[] {1});
      space.reserve(a, 60 * MIB);
      Digest b = BlobStoreTest.sha256(new byte[] {2});
      assertThrows(RegistryException.class, () -> space.reserve(b, 30 * MIB), "60 promised + 30 + the reserve is more than 100");
      // a writes 50 MiB: the disk shrinks by that, and so does what a still needs
      free.addAndGet(-50 * MIB);
      space.wrote(a, 50 * MIB);
      assertThrows(RegistryException.class, () -> space.reserve(b, 30 * MIB), "50 free - 10 promised - 16 reserve < 30");
      space.reserve(b, 20 * MIB);
      space.release(a);
      assertEquals(20 * MIB, space.reserved());
    }
  }

  @Test
  void aBlobThatCannotFitEvenAfterEvictingEverythingEvictsNothing() throws Exception {
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Digest cached = put(store, 1000, 1);
      SpaceManager space = onDisk(store, 1L << 30, new AtomicLong(20 * MIB));
      assertThrows(RegistryException.class, () -> space.reserve(BlobStoreTest.sha256(new byte[] {3}), 40 * MIB));
      assertTrue(evicted.isEmpty() && store.lookup(cached).isPresent(), "nothing was evicted in vain");
    }
  }

  @Test
  void regressionKeptPartialsCountAgainstTheLimitAndAreEvictedFirstOldestFirst() throws Exception {
    // issue 18: a failed download's kept partial filled the disk, and could not be evicted ("not in the cache")
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Digest cached = put(store, 4000, 1);
      Digest older = keptPartial(store, (byte) 5, 2);
      Digest newer = keptPartial(store, (byte) 6, 3);
      SpaceManager space = space(store, 20_000);
      assertEquals(4000 + 2 * 4096, space.used(), "two kept pieces of 4 KiB and a blob count against the limit");
      assertEquals(2 * 4096, space.keptPartialBytes());
      space.reserve(BlobStoreTest.sha256(new byte[] {9}), 10_000);
      assertEquals(List.of(older), evicted.stream().map(SpaceManager.Eviction::digest).toList(), "the oldest kept partial went first");
      assertTrue(store.partial(older).isEmpty() && store.partial(newer).isPresent() && store.lookup(cached).isPresent());
    }
  }

  @Test
  void aResumedDownloadsPiecesAreReadAndReservedInOneStepAndNoOtherReservationEvictsThem() throws Exception {
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Digest resumed = keptPartial(store, (byte) 5, 2);
      Digest other = keptPartial(store, (byte) 6, 3);
      SpaceManager space = space(store, 30_000);
      java.util.Optional<PartialRecord> had = space.reserveResuming(resumed, 16 << 10, r -> r.size() == 16 << 10);
      assertEquals(java.util.Optional.of(4096L), had.map(PartialRecord::bytesOnDisk));
      assertEquals(16 << 10, space.reserved(), "the whole blob is reserved; its 4 KiB on disk are counted once");
      assertTrue(evicted.isEmpty());
      space.reserve(BlobStoreTest.sha256(new byte[] {9}), 10_000);
      assertEquals(List.of(other), evicted.stream().map(SpaceManager.Eviction::digest).toList(),
          "room for another download came from the kept partial nobody resumes, never from the one being resumed");
      assertTrue(store.partial(resumed).isPresent());
    }
  }

  /** Caches {@code repo:latest} as a manifest naming {@code blobs}. */
  private void cacheModel(BlobStore store, String repo, byte seed, Digest... blobs) throws Exception {
    Digest manifest = BlobStoreTest.sha256(new byte[] {seed, 7, 7});
    store.catalog().putManifest(new ManifestRecord(manifest, "t", new byte[] {seed}, 1, List.of(blobs)));
    store.catalog().putTag(new TagRecord(RepositoryName.parse(repo), "latest", manifest, 1));
  }

  @Test
  void evictingAModelRemovesItsBlobsAndKeepsThoseAnotherCachedModelUses() throws Exception {
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Digest own = put(store, 400, 1);
      Digest shared = put(store, 300, 2);
      Digest neighbours = put(store, 200, 3);
      cacheModel(store, "library/a", (byte) 1, own, shared);
      cacheModel(store, "library/b", (byte) 2, shared, neighbours);
      SpaceManager space = space(store, 1 << 20);

      SpaceManager.OperatorEviction e = space.evictModel(RepositoryName.parse("library/a"), "latest");

      assertEquals(List.of(own), e.evicted());
      assertEquals(400, e.freedBytes());
      assertEquals(List.of(shared), e.keptShared());
      assertTrue(store.lookup(own).isEmpty() && store.lookup(shared).isPresent() && store.lookup(neighbours).isPresent());
      assertEquals(List.of(own), evicted.stream().map(SpaceManager.Eviction::digest).toList(), "the listener hears of it");
      assertEquals(1, space.evictions());
    }
  }

  @Test
  void aPartialTheDownloadCannotUseIsNotResumed() throws Exception {
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Digest d = keptPartial(store, (byte) 5, 2);
      SpaceManager space = space(store, 100_000);
      assertTrue(space.reserveResuming(d, 16 << 10, r -> false).isEmpty());
      assertEquals(16 << 10, space.reserved());
    }
  }

  @Test
  void aModelWithOneBlobThatMustStayIsRefusedWholeAndNothingIsEvicted() throws Exception {
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Digest first = put(store, 400, 1);
      Digest served = put(store, 300, 2);
      cacheModel(store, "library/a", (byte) 1, first, served);
      SpaceManager space = space(store, 1 << 20);
      try (SpaceManager.Lease lease = space.use(served)) {
        RegistryException e = assertThrows(RegistryException.class, () -> space.evictModel(RepositoryName.parse("library/a"), "latest"));
        assertEquals(409, e.status());
        assertEquals("library/a:latest: blob " + served.shortHex() + " is being served; nothing was evicted", e.getMessage());
        assertTrue(store.lookup(first).isPresent() && evicted.isEmpty(), "not one blob went");
      }
    }
  }

  @Test
  void aRefusalNamesAPinBeforeADownloadBeforeAReader() throws Exception {
    try (BlobStore store = BlobStore.open(dir, clock)) {
      Digest blob = put(store, 400, 1);
      cacheModel(store, "library/a", (byte) 1, blob);
      SpaceManager space = space(store, 1 << 20);
      RepositoryName a = RepositoryName.parse("library/a");
      try (SpaceManager.Lease lease = space.use(blob)) {
        space.reserve(blob, 400);
        assertTrue(assertThrows(RegistryException.class, () -> space.evictModel(a, "latest")).getMessage()
            .endsWith("is being downloaded; nothing was evicted"));
        store.catalog().pin(new Pin(a, "latest", 1));
        assertTrue(assertThrows(RegistryException.class, () -> space.evictModel(a, "latest")).getMessage()
            .endsWith("is pinned (unpin its model first); nothing was evicted"));
      }
    }
  }

  @Test
  void aModelOrABlobNotInTheCacheIsNotFound() throws Exception {
    try (BlobStore store = BlobStore.open(dir, clock)) {
      SpaceManager space = space(store, 1 << 20);
      RegistryException model = assertThrows(RegistryException.class, () -> space.evictModel(RepositoryName.parse("library/gone"), "7b"));
      assertEquals(ErrorCode.NOT_FOUND, model.code());
      assertEquals("library/gone:7b is not in the cache", model.getMessage());
      RegistryException blob = assertThrows(RegistryException.class, () -> space.evictNow(BlobStoreTest.sha256(new byte[] {4})));
      assertEquals(ErrorCode.BLOB_UNKNOWN, blob.code());
    }
  }

  /** A partial download of 16 KiB in 4 KiB pieces with its first piece on disk, not running, last updated at {@code at}. */
  private Digest keptPartial(BlobStore store, byte seed, long at) throws Exception {
    clock.millis = at;
    Digest d = BlobStoreTest.sha256(new byte[] {seed, 1, 2});
    try (java.nio.channels.FileChannel ch = store.openPartial(d, 16 << 10, RepositoryName.parse("library/x"), 4096)) {
      ch.write(java.nio.ByteBuffer.wrap(new byte[4096]), 0);
      ch.force(true);
    }
    java.util.BitSet done = new java.util.BitSet();
    done.set(0);
    store.putPartial(new PartialRecord(d, RepositoryName.parse("library/x"), 16 << 10, 4096, done, at));
    return d;
  }
}
