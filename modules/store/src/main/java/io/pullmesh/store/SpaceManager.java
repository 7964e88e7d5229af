package io.pullmesh.store;

import io.pullmesh.core.Bytes;
import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.store.eviction.EvictionCandidate;
import io.pullmesh.store.eviction.EvictionPolicy;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.logging.Logger;

/**
 * Keeps the cache within its limit and its disk. Space is accounted as committed blob bytes, plus the full size of
 * every download in progress (reserved when it starts, since its partial file grows to that size), plus the pieces of
 * partial downloads kept for a later resume. A download is reserved against the limit and against the disk's real free
 * space, whichever is smaller (other programs' data on the disk counts, and {@link #DISK_RESERVE} stays free for the
 * index), before its first byte is served: one that cannot fit is refused with 507 up front (issue 18). When a
 * download needs room, or a commit or a smaller limit leaves the cache over it, kept partials go first, oldest first,
 * then the {@link EvictionPolicy} picks blobs among those that may go: never a pinned blob (of a pinned tag's current
 * manifest), one being served ({@link #use}) or one being downloaded.
 *
 * <p>Blocking (eviction deletes files, candidates come from the index) and thread-safe; never call from an
 * event loop.
 */
public final class SpaceManager {
  private static final Logger LOG = Logger.getLogger(SpaceManager.class.getName());

  /** What an eviction did. */
  public record Eviction(Digest digest, long bytes) {}

  /** Something to tell about each eviction (metrics, logs). */
  public interface Listener {
    /**
     * @param reason one of a fixed few, fit for a metric tag: "over the limit", "room for download", "disk full",
     *     "operator"
     */
    void evicted(Eviction e, String reason);
  }

  private final BlobStore store;
  private final EvictionPolicy policy;
  private final LongSupplier limit;
  private final Clock clock;
  private final Listener listener;
  private final Map<Digest, Integer> inUse = new ConcurrentHashMap<>();
  /** Bytes of the disk downloads never take: RocksDB writes there, and a full disk must not stop the index. */
  public static final long DISK_RESERVE = 16L << 20;

  private final LongSupplier usableSpace;
  private final Map<Digest, Long> reservations = new HashMap<>();
  /** Per reservation: what was on disk already when it was made (a resumed download's pieces). */
  private final Map<Digest, Long> onDisk = new HashMap<>();
  /** Per reservation: bytes written since; read without the lock. */
  private final Map<Digest, java.util.concurrent.atomic.LongAdder> written = new ConcurrentHashMap<>();
  private final AtomicLong reserved = new AtomicLong();
  private final AtomicLong evictions = new AtomicLong();

  /**
   * @param limit the cache limit in bytes, read on every decision (so it may change at runtime)
   */
  public SpaceManager(BlobStore store, EvictionPolicy policy, LongSupplier limit, Clock clock, Listener listener) {
    this(store, policy, limit, clock, listener, () -> Ballast.usable(store.root()));
  }

  /** As above, with the disk's usable bytes from {@code usableSpace} (tests stand in for a disk). */
  public SpaceManager(BlobStore store, EvictionPolicy policy, LongSupplier limit, Clock clock, Listener listener, LongSupplier usableSpace) {
    this.usableSpace = usableSpace;
    this.store = store;
    this.policy = policy;
    this.limit = limit;
    this.clock = clock;
    this.listener = listener;
  }

  public long limit() {
    return limit.getAsLong();
  }

  /** Bytes held for downloads in progress. */
  public long reserved() {
    return reserved.get();
  }

  /** Committed, reserved and kept-partial bytes: what counts against the limit. */
  public long used() {
    return store.committedBytes() + reserved.get() + keptPartialBytes();
  }

  /** The pieces on disk of partial downloads not running now (kept for a later resume). */
  public synchronized long keptPartialBytes() {
    long sum = 0;
    for (PartialRecord r : keptPartials()) {
      sum += piecesOnDisk(r);
    }
    return sum;
  }

  private List<PartialRecord> keptPartials() {
    List<PartialRecord> out = new ArrayList<>();
    for (PartialRecord r : store.partials()) {
      if (!reservations.containsKey(r.digest())) {
        out.add(r);
      }
    }
    return out;
  }

  private static long piecesOnDisk(PartialRecord r) {
    return r.bytesOnDisk();
  }

  public long evictions() {
    return evictions.get();
  }

  /** A blob a client is being served. Close it when the response is over. */
  public interface Lease extends AutoCloseable {
    @Override
    void close();
  }

  /** Marks {@code d} in use (being served) until the lease is closed: it will not be evicted meanwhile. */
  public Lease use(Digest d) {
    // count changes happen inside the map's per-key atomic operations: a release racing a new use can never
    // orphan a count (removing the entry between a lookup and an increment)
    inUse.merge(d, 1, Integer::sum);
    java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
    return () -> {
      if (closed.compareAndSet(false, true)) {
        inUse.computeIfPresent(d, (k, n) -> n <= 1 ? null : n - 1);
      }
    };
  }

  public boolean inUse(Digest d) {
    return inUse.containsKey(d);
  }

  /** As {@link #reserve(Digest, long, long)} for a download with nothing on disk yet. */
  public synchronized void reserve(Digest d, long size) {
    reserve(d, size, 0);
  }

  /**
   * Holds room for a download of {@code size} bytes, of which {@code alreadyOnDisk} (a resumed download's pieces) are
   * written already, evicting what is needed if the cache would exceed its limit or its disk would fill. Reserving a
   * digest already reserved changes nothing.
   *
   * @throws RegistryException INSUFFICIENT_STORAGE (507) when the blob is larger than the limit or than the disk can
   *     hold, or not enough can be evicted because the rest is pinned, in use or being downloaded
   */
  public synchronized void reserve(Digest d, long size, long alreadyOnDisk) {
    if (reservations.containsKey(d)) {
      return;
    }
    long max = limit.getAsLong();
    if (size > max) {
      throw new RegistryException(ErrorCode.INSUFFICIENT_STORAGE, "blob " + d + " is " + Bytes.human(size)
          + ", larger than the whole cache limit of " + Bytes.human(max) + ": raise --cache-max-bytes");
    }
    // the other blobs of the model being pulled are about to be used, and this blob's own kept pieces are what it
    // resumes from: not them; and what it has on disk already is counted once, in its reservation
    Set<Digest> keep = siblings(d);
    keep.add(d);
    long over = used() - alreadyOnDisk + size - max;
    if (over > 0 && over <= evictable(keep)) {
      evict(over, "room for download", "room for " + d.shortHex(), keep);
      over = used() - alreadyOnDisk + size - max;
    }
    if (over > 0) {
      throw new RegistryException(ErrorCode.INSUFFICIENT_STORAGE, "the cache (limit " + Bytes.human(max) + ") has no room for "
          + Bytes.human(size) + " more: " + Bytes.human(over) + " short, and the rest is pinned, being served or being downloaded");
    }
    long need = Math.max(0, size - alreadyOnDisk);
    long diskShort = need + pendingWrites() + DISK_RESERVE - usableSpace.getAsLong();
    if (diskShort > 0) {
      // evict only when that would make the room: a blob that cannot fit anyway must not cost the cache what it holds
      if (diskShort <= evictable(keep)) {
        evict(diskShort, "disk full", "disk full, room for " + d.shortHex(), keep);
      }
      diskShort = need + pendingWrites() + DISK_RESERVE - usableSpace.getAsLong();
      if (diskShort > 0) {
        throw new RegistryException(ErrorCode.INSUFFICIENT_STORAGE, "the disk holding the cache has " + Bytes.human(Math.max(0, usableSpace.getAsLong()))
            + " free (other programs' data counts, " + Bytes.human(DISK_RESERVE) + " is kept for the index, " + Bytes.human(pendingWrites())
            + " is promised to downloads in progress): no room for " + Bytes.human(need) + " more of blob " + d.shortHex() + ", "
            + Bytes.human(diskShort) + " short, and the rest is pinned, being served or being downloaded");
      }
    }
    reservations.put(d, size);
    onDisk.put(d, alreadyOnDisk);
    written.put(d, new java.util.concurrent.atomic.LongAdder());
    reserved.addAndGet(size);
  }

  /**
   * Reserves room for a download of {@code d} that resumes the partial file a previous run left, when there is one that
   * {@code usable} accepts: the piece map is read and the room reserved in one step under this manager's lock, so no
   * other reservation can evict those pieces in between (they are protected from the moment they are reserved).
   *
   * @return the partial record the download resumes from, or empty for a download that starts from nothing
   * @throws RegistryException like {@link #reserve(Digest, long, long)}
   */
  public synchronized Optional<PartialRecord> reserveResuming(Digest d, long size, java.util.function.Predicate<PartialRecord> usable) {
    Optional<PartialRecord> had = store.partial(d).filter(usable);
    reserve(d, size, had.map(PartialRecord::bytesOnDisk).orElse(0L));
    return had;
  }

  /** What eviction could free at most: kept partials and committed blobs not pinned, served, downloaded or in {@code keep}. */
  private long evictable(Set<Digest> keep) {
    Set<Digest> kept = protectedDigests();
    kept.addAll(keep);
    long sum = 0;
    for (PartialRecord r : keptPartials()) {
      sum += keep.contains(r.digest()) ? 0 : piecesOnDisk(r);
    }
    for (BlobRecord r : store.blobs()) {
      sum += kept.contains(r.digest()) ? 0 : r.size();
    }
    return sum;
  }

  /** A download reserved with {@link #reserve} wrote {@code bytes} more to its partial file (any thread; no lock). */
  public void wrote(Digest d, long bytes) {
    java.util.concurrent.atomic.LongAdder a = written.get(d);
    if (a != null) {
      a.add(bytes);
    }
  }

  /** Bytes the downloads in progress will still write: what the disk must keep for them. Caller holds the lock. */
  private long pendingWrites() {
    long sum = 0;
    for (Map.Entry<Digest, Long> e : reservations.entrySet()) {
      java.util.concurrent.atomic.LongAdder w = written.get(e.getKey());
      sum += Math.max(0, e.getValue() - onDisk.getOrDefault(e.getKey(), 0L) - (w == null ? 0 : w.sum()));
    }
    return sum;
  }

  /** The download of {@code d} ended (committed or given up): its reservation is released. */
  public synchronized void release(Digest d) {
    Long size = reservations.remove(d);
    onDisk.remove(d);
    written.remove(d);
    if (size != null) {
      reserved.addAndGet(-size);
    }
  }

  /** Evicts until committed plus reserved bytes are within the limit again (after a commit, or a smaller limit). */
  public synchronized void enforce() {
    long over = used() - limit.getAsLong();
    if (over > 0) {
      evict(over, "over the limit", "over the limit", Set.of());
    }
  }

  /**
   * The disk filled up under a download that still has {@code needed} bytes to write: evicts what the file
   * system lacks for them (nothing when another writer already made room), if the policy can.
   *
   * @return whether there is room to go on (at least {@code minimum} usable bytes now)
   */
  public synchronized boolean makeRoom(long needed, long minimum) {
    long usable = usableSpace();
    if (usable >= needed) {
      return true;
    }
    evict(needed - usable, "disk full", "disk full", Set.of());
    return usableSpace() >= Math.min(needed, minimum);
  }

  private long usableSpace() {
    return usableSpace.getAsLong();
  }

  /** What an operator's eviction did: the blobs removed, the bytes freed, and a model's blobs kept because other cached models use them. */
  public record OperatorEviction(List<Digest> evicted, long freedBytes, List<Digest> keptShared) {}

  /**
   * Removes one blob on an operator's request.
   *
   * @return the bytes freed
   * @throws RegistryException 409-class DENIED when it is pinned, being downloaded or being served; BLOB_UNKNOWN when it
   *     is not in the cache
   */
  public long evictNow(Digest d) {
    List<Eviction> done;
    synchronized (this) {
      done = evictAllOrNone(d.toString(), List.of(d), true);
    }
    return told(done).freedBytes();
  }

  /**
   * Removes a model on an operator's request: every blob of the current manifest of {@code repository:tag}, except those
   * another cached tag also uses (evicting a model by name must not take its neighbours' layers). All of them go, or,
   * when one of them may not go now, none: checked and evicted under this manager's lock, so no download can reserve one
   * of them in between. The listener hears of each after the lock is let go.
   *
   * @throws RegistryException NOT_FOUND when the tag or its manifest is not in the cache; 409-class DENIED naming the
   *     first blob that is pinned, being downloaded or being served
   */
  public OperatorEviction evictModel(RepositoryName repository, String tag) {
    String what = repository + ":" + tag;
    Catalog catalog = store.catalog();
    List<Digest> kept = new ArrayList<>();
    List<Eviction> done;
    synchronized (this) {
      TagRecord t = catalog.tag(repository, tag).orElseThrow(() -> new RegistryException(ErrorCode.NOT_FOUND, what + " is not in the cache"));
      ManifestRecord m = catalog.manifest(t.digest()).orElseThrow(() -> new RegistryException(ErrorCode.NOT_FOUND, what + " is not in the cache"));
      Set<Digest> shared = catalog.digestsOfOtherTags(repository, tag);
      List<Digest> targets = new ArrayList<>();
      for (Digest d : m.references()) {
        (shared.contains(d) ? kept : targets).add(d);
      }
      done = evictAllOrNone(what, targets, false);
    }
    OperatorEviction e = told(done);
    return new OperatorEviction(e.evicted(), e.freedBytes(), List.copyOf(kept));
  }

  /** Evicts all of {@code targets}, or none when one of them must stay; caller holds the lock, and tells the listener after. */
  private List<Eviction> evictAllOrNone(String what, List<Digest> targets, boolean mustBeCached) {
    assert Thread.holdsLock(this);
    Set<Digest> keep = protectedDigests();
    for (Digest d : targets) {
      if (keep.contains(d)) {
        throw new RegistryException(ErrorCode.DENIED, 409, what + ": blob " + d.shortHex() + " " + why(d) + "; nothing was evicted", null);
      }
    }
    if (mustBeCached && store.lookup(targets.get(0)).isEmpty()) {
      throw new RegistryException(ErrorCode.BLOB_UNKNOWN, "blob " + what + " is not in the cache");
    }
    List<Eviction> done = new ArrayList<>();
    for (Digest d : targets) {
      long n = store.evict(d);
      if (n > 0) {
        evictions.incrementAndGet();
        done.add(new Eviction(d, n));
      }
    }
    return done;
  }

  /** Tells the listener of an operator's evictions (outside the lock), and sums them up. */
  private OperatorEviction told(List<Eviction> done) {
    assert !Thread.holdsLock(this);
    long freed = 0;
    List<Digest> evicted = new ArrayList<>();
    for (Eviction e : done) {
      listener.evicted(e, "operator");
      freed += e.bytes();
      evicted.add(e.digest());
    }
    return new OperatorEviction(List.copyOf(evicted), freed, List.of());
  }

  /** Why a protected blob must stay, as an operator is told: pinned first, then being downloaded, then being served. */
  private String why(Digest d) {
    if (store.catalog().pinnedDigests().contains(d)) {
      return "is pinned (unpin its model first)";
    }
    if (reservations.containsKey(d)) {
      return "is being downloaded";
    }
    return "is being served";
  }

  /** Blobs that must stay: pinned, being served, being downloaded. */
  public synchronized Set<Digest> protectedDigests() {
    Set<Digest> out = new HashSet<>(store.catalog().pinnedDigests());
    out.addAll(inUse.keySet());
    out.addAll(reservations.keySet());
    return out;
  }

  /** The blobs that share a manifest with {@code d}. */
  private Set<Digest> siblings(Digest d) {
    Set<Digest> out = new HashSet<>();
    for (ManifestRecord m : store.catalog().manifests()) {
      if (m.references().contains(d)) {
        out.addAll(m.references());
      }
    }
    return out;
  }

  /**
   * Deletes partial downloads kept for a resume (none is running), oldest first, until {@code bytes} are freed: a kept
   * partial is worth less than a committed blob, and nobody reads it (issue 18: a kept partial could fill the disk and
   * could not be evicted).
   */
  private long evictKeptPartials(long bytes, String reason, String detail, Set<Digest> alsoKeep) {
    List<PartialRecord> kept = new ArrayList<>(keptPartials());
    kept.removeIf(r -> alsoKeep.contains(r.digest()));
    kept.sort(java.util.Comparator.comparingLong(PartialRecord::updatedAt));
    long freed = 0;
    for (PartialRecord r : kept) {
      if (freed >= bytes) {
        break;
      }
      long n = piecesOnDisk(r);
      store.discardPartial(r.digest());
      freed += n;
      evictions.incrementAndGet();
      LOG.info(() -> "deleted the kept partial download of " + r.digest() + " (" + Bytes.human(n) + " of pieces): " + detail);
      listener.evicted(new Eviction(r.digest(), n), reason);
    }
    return freed;
  }

  /**
   * @param reason the listener's (bounded) reason
   * @param detail the log's, which may name the download making room
   */
  private long evict(long bytes, String reason, String detail, Set<Digest> alsoKeep) {
    long freed = evictKeptPartials(bytes, reason, detail, alsoKeep);
    if (freed >= bytes) {
      return freed;
    }
    bytes -= freed;
    Set<Digest> keep = protectedDigests();
    keep.addAll(alsoKeep);
    List<EvictionCandidate> candidates = new ArrayList<>();
    for (BlobRecord r : store.blobs()) {
      if (!keep.contains(r.digest())) {
        candidates.add(new EvictionCandidate(r.digest(), r.size(), r.lastAccess(), r.hits(), r.createdAt()));
      }
    }
    for (Digest d : policy.selectVictims(candidates, bytes, clock.millis())) {
      long n = store.evict(d);
      if (n > 0) {
        freed += n;
        evictions.incrementAndGet();
        Eviction e = new Eviction(d, n);
        LOG.info(() -> "evicted " + d + " (" + Bytes.human(n) + "): " + detail);
        listener.evicted(e, reason);
      }
    }
    return freed;
  }
}
