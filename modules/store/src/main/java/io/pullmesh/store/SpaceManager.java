package io.pullmesh.store;

import io.pullmesh.core.Bytes;
import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.pullmesh.store.eviction.EvictionCandidate;
import io.pullmesh.store.eviction.EvictionPolicy;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.logging.Logger;

/**
 * Keeps the cache within its limit. Space is accounted as committed blob bytes plus the full size of every
 * download in progress (reserved when it starts, since its partial file grows to that size). When a download
 * needs room, or a commit or a smaller limit leaves the cache over it, the {@link EvictionPolicy} picks blobs to
 * remove among those that may go: never a pinned blob (of a pinned tag's current manifest), one being served
 * ({@link #use}) or one being downloaded.
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
  private final Map<Digest, Long> reservations = new HashMap<>();
  private final AtomicLong reserved = new AtomicLong();
  private final AtomicLong evictions = new AtomicLong();

  /**
   * @param limit the cache limit in bytes, read on every decision (so it may change at runtime)
   */
  public SpaceManager(BlobStore store, EvictionPolicy policy, LongSupplier limit, Clock clock, Listener listener) {
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

  /** Committed plus reserved bytes: what counts against the limit. */
  public long used() {
    return store.committedBytes() + reserved.get();
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

  /**
   * Holds room for a download of {@code size} bytes, evicting what the policy chooses if the cache would
   * otherwise exceed its limit. Reserving a digest already reserved changes nothing.
   *
   * @throws RegistryException INSUFFICIENT_STORAGE (507) when the blob is larger than the limit, or not enough
   *     can be evicted because the rest is pinned, in use or being downloaded
   */
  public synchronized void reserve(Digest d, long size) {
    if (reservations.containsKey(d)) {
      return;
    }
    long max = limit.getAsLong();
    if (size > max) {
      throw new RegistryException(ErrorCode.INSUFFICIENT_STORAGE, "blob " + d + " is " + Bytes.human(size)
          + ", larger than the whole cache limit of " + Bytes.human(max) + ": raise --cache-max-bytes");
    }
    long over = store.committedBytes() + reserved.get() + size - max;
    if (over > 0) {
      // the other blobs of the model being pulled are about to be used: not them
      evict(over, "room for download", "room for " + d.shortHex(), siblings(d));
      over = store.committedBytes() + reserved.get() + size - max;
      if (over > 0) {
        throw new RegistryException(ErrorCode.INSUFFICIENT_STORAGE, "the cache (limit " + Bytes.human(max) + ") has no room for "
            + Bytes.human(size) + " more: " + Bytes.human(over) + " short, and the rest is pinned, being served or being downloaded");
      }
    }
    reservations.put(d, size);
    reserved.addAndGet(size);
  }

  /** The download of {@code d} ended (committed or given up): its reservation is released. */
  public synchronized void release(Digest d) {
    Long size = reservations.remove(d);
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
    try {
      return java.nio.file.Files.getFileStore(store.root()).getUsableSpace();
    } catch (java.io.IOException e) {
      return 0;
    }
  }

  /**
   * Removes one blob on an operator's request.
   *
   * @throws RegistryException 409-class DENIED when it is pinned, being served or being downloaded
   */
  public synchronized long evictNow(Digest d) {
    if (protectedDigests().contains(d)) {
      throw new RegistryException(ErrorCode.DENIED, 409, "blob " + d + " is " + why(d) + "; it cannot be evicted now", null);
    }
    long freed = store.evict(d);
    if (freed > 0) {
      evictions.incrementAndGet();
      listener.evicted(new Eviction(d, freed), "operator");
    }
    return freed;
  }

  private String why(Digest d) {
    if (inUse.containsKey(d)) {
      return "being served";
    }
    if (reservations.containsKey(d)) {
      return "being downloaded";
    }
    return "pinned (unpin its model first)";
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
   * @param reason the listener's (bounded) reason
   * @param detail the log's, which may name the download making room
   */
  private long evict(long bytes, String reason, String detail, Set<Digest> alsoKeep) {
    Set<Digest> keep = protectedDigests();
    keep.addAll(alsoKeep);
    List<EvictionCandidate> candidates = new ArrayList<>();
    for (BlobRecord r : store.blobs()) {
      if (!keep.contains(r.digest())) {
        candidates.add(new EvictionCandidate(r.digest(), r.size(), r.lastAccess(), r.hits(), r.createdAt()));
      }
    }
    long freed = 0;
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
