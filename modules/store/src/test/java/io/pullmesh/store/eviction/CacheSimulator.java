package io.pullmesh.store.eviction;

import io.pullmesh.core.Digest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongUnaryOperator;

/**
 * Replays a {@link Trace} against a cache of fixed capacity, with the rules the store will follow:
 *
 * <ul>
 *   <li>a requested blob in the cache is a hit: its last access becomes now and its hit count grows by one;
 *   <li>a missing blob is fetched (its bytes count as fetched) and inserted with zero hits; before it is, if it
 *       would not fit, the policy is asked for victims worth {@code used + size - capacity} bytes among the
 *       cached blobs <em>not</em> in the pull being served (those are in use), and they are removed;
 *   <li>if the candidates are not enough the blob is inserted anyway (the store cannot refuse a blob it is
 *       serving) and the overshoot is reported.
 * </ul>
 *
 * Every answer of the policy is checked against the {@link EvictionPolicy} contract. Times are the trace's
 * plus a fixed epoch, so nothing depends on the wall clock.
 */
final class CacheSimulator {
  /** Trace time 0: Monday 2024-01-01T00:00Z. */
  static final long EPOCH = 1_704_067_200_000L;

  private CacheSimulator() {
  }

  /** Counters of one run. Ratios are of requests and bytes requested. */
  record Result(String trace, String policy, long capacity, long requests, long hits, long requestedBytes,
      long hitBytes, long pulls, long wholePullHits, long fetchedBytes, long evictions, long maxOvershoot) {
    double byteHitRatio() {
      return (double) hitBytes / requestedBytes;
    }

    double objectHitRatio() {
      return (double) hits / requests;
    }

    double pullHitRatio() {
      return (double) wholePullHits / pulls;
    }
  }

  private static final class Entry {
    final Digest digest;
    final long size;
    final long created;
    long lastAccess;
    long hits;

    Entry(Digest digest, long size, long created, long hits) {
      this.digest = digest;
      this.size = size;
      this.created = created;
      this.lastAccess = created;
      this.hits = hits;
    }

    EvictionCandidate candidate() {
      return new EvictionCandidate(digest, size, lastAccess, hits, created);
    }
  }

  static Result run(Trace trace, long capacity, SimPolicy policy) {
    return run(trace, capacity, policy, false);
  }

  /**
   * @param rememberEvicted when true, a blob fetched again after eviction gets back its earlier commit time and
   *     request count (as if the index kept records of evicted blobs); a variant, not what the store does
   */
  static Result run(Trace trace, long capacity, SimPolicy policy, boolean rememberEvicted) {
    return run(trace, capacity, policy, rememberEvicted, size -> 1);
  }

  /**
   * @param hitsPerPull how much a pull served from the cache adds to a blob's hit count, by blob size: 1 when
   *     the store counts pulls (the contract of {@link EvictionCandidate#accessCount}); more to model a store
   *     that counts every HTTP request of a pull (see {@link #ollamaRequestsPerPull})
   */
  static Result run(Trace trace, long capacity, SimPolicy policy, boolean rememberEvicted,
      LongUnaryOperator hitsPerPull) {
    policy.reset(trace);
    Map<Digest, Entry> cache = new LinkedHashMap<>();
    Map<Digest, Entry> evicted = new HashMap<>();
    long used = 0;
    long requests = 0;
    long hits = 0;
    long requestedBytes = 0;
    long hitBytes = 0;
    long wholePullHits = 0;
    long fetched = 0;
    long evictions = 0;
    long maxOvershoot = 0;
    for (Trace.Pull pull : trace.pulls()) {
      long now = EPOCH + pull.timeMillis();
      Set<Digest> inUse = new HashSet<>();
      for (Trace.Blob b : pull.blobs()) {
        inUse.add(b.digest());
      }
      boolean allHit = true;
      for (Trace.Blob b : pull.blobs()) {
        requests++;
        requestedBytes += b.size();
        Entry e = cache.get(b.digest());
        if (e != null) {
          hits++;
          hitBytes += b.size();
          e.hits += hitsPerPull.applyAsLong(b.size());
          e.lastAccess = now;
          policy.onAccess(b.digest(), b.size(), now, true);
          continue;
        }
        allHit = false;
        fetched += b.size();
        long need = used + b.size() - capacity;
        if (need > 0) {
          List<EvictionCandidate> candidates = new ArrayList<>();
          for (Entry c : cache.values()) {
            if (!inUse.contains(c.digest)) {
              candidates.add(c.candidate());
            }
          }
          List<Digest> victims = policy.selectVictims(List.copyOf(candidates), need, now);
          checkContract(policy.name(), candidates, need, victims);
          for (Digest v : victims) {
            Entry gone = cache.remove(v);
            used -= gone.size;
            evictions++;
            policy.onEvict(v);
            if (rememberEvicted) {
              evicted.put(v, gone);
            }
          }
        }
        Entry before = rememberEvicted ? evicted.remove(b.digest()) : null;
        Entry fresh = before == null ? new Entry(b.digest(), b.size(), now, 0)
            : new Entry(b.digest(), b.size(), before.created, before.hits + 1);
        fresh.lastAccess = now;
        cache.put(b.digest(), fresh);
        used += b.size();
        maxOvershoot = Math.max(maxOvershoot, used - capacity);
        policy.onAccess(b.digest(), b.size(), now, false);
      }
      if (allHit) {
        wholePullHits++;
      }
    }
    return new Result(trace.name(), policy.name(), capacity, requests, hits, requestedBytes, hitBytes,
        trace.pulls().size(), wholePullHits, fetched, evictions, maxOvershoot);
  }

  /**
   * HTTP requests one Ollama pull makes for a blob of {@code size} bytes: one GET that resolves the blob's
   * URL, then one ranged GET per part; parts are size/16 clamped to 100 MB..1000 MB (server/download.go).
   */
  static long ollamaRequestsPerPull(long size) {
    long part = Math.min(1_000_000_000L, Math.max(100_000_000L, size / 16));
    return 1 + Math.max(1, (size + part - 1) / part);
  }

  /** The {@link EvictionPolicy#selectVictims} contract, checked on every call the simulator makes. */
  static void checkContract(String policy, List<EvictionCandidate> candidates, long need, List<Digest> victims) {
    Map<Digest, Long> sizes = new HashMap<>();
    long all = 0;
    for (EvictionCandidate c : candidates) {
      sizes.put(c.digest(), c.size());
      all += c.size();
    }
    Set<Digest> seen = new HashSet<>();
    long freed = 0;
    long beforeLast = 0;
    for (Digest v : victims) {
      if (!sizes.containsKey(v) || !seen.add(v)) {
        throw new AssertionError(policy + " returned " + v + ", not a candidate or twice");
      }
      beforeLast = freed;
      freed += sizes.get(v);
    }
    if (freed < need && victims.size() != candidates.size()) {
      throw new AssertionError(policy + " freed " + freed + " < " + need + " but left candidates (" + all + " bytes)");
    }
    if (!victims.isEmpty() && beforeLast >= need) {
      throw new AssertionError(policy + " returned more victims than needed");
    }
  }
}
