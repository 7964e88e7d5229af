package io.pullmesh.store.eviction;

import io.pullmesh.core.Digest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * Policies measured next to the shipped ones, to choose between designs (docs/eviction.md has the numbers).
 * None of these is used by the store: some need per-blob state the index does not keep, one needs the future.
 */
final class ReferencePolicies {
  private ReferencePolicies() {
  }

  static final double LN2 = Math.log(2);

  /** Value per byte of a fetch: (size + overhead) / size, as the pullmesh policy uses it. */
  static double costPerByte(long size, long overhead) {
    return size == 0 ? Double.POSITIVE_INFINITY : ((double) size + overhead) / size;
  }

  /** A stateless policy that evicts the lowest score first (ties: least recent, then digest). */
  static EvictionPolicy byScore(String name, ScoreFunction score) {
    return new EvictionPolicy() {
      @Override
      public List<Digest> selectVictims(List<EvictionCandidate> candidates, long bytesToFree, long nowMillis) {
        Map<Digest, Double> s = new HashMap<>();
        for (EvictionCandidate c : candidates) {
          s.put(c.digest(), score.score(c, nowMillis));
        }
        return Victims.take(candidates, bytesToFree,
            Comparator.comparingDouble((EvictionCandidate c) -> s.get(c.digest()))
                .thenComparingLong(EvictionCandidate::lastAccessMillis)
                .thenComparing(Victims.BY_DIGEST));
      }

      @Override
      public String toString() {
        return name;
      }
    };
  }

  /** A candidate's score at a time. */
  interface ScoreFunction {
    double score(EvictionCandidate c, long now);
  }

  /** LFU without aging: requests x cost per byte. */
  static EvictionPolicy lfu(long overhead) {
    return byScore("LFU (no aging)", (c, now) -> c.requests() * costPerByte(c.size(), overhead));
  }

  /**
   * The pullmesh score with the silence rule weakened: the assumed spacing of requests is at least
   * {@code silenceWeight} times the time since the last one. 1 is {@link DecayedFrequencyPolicy}; 0 takes the
   * requests as evenly spaced between first and last, however long ago the last was.
   */
  static EvictionPolicy evenlySpaced(String name, long halfLifeMillis, long overhead, double silenceWeight) {
    return byScore(name, (c, now) -> {
      long last = Math.min(c.lastAccessMillis(), now);
      long created = Math.min(c.createdMillis(), last);
      double idle = now - last;
      double n = c.requests();
      double sum = 1;
      if (n > 1) {
        double spacing = Math.max((last - created) / (n - 1), idle * silenceWeight);
        double a = spacing * LN2 / halfLifeMillis;
        sum = a == 0 ? n : Math.expm1(-n * a) / Math.expm1(-a);
      }
      return Math.log(sum) / LN2 - idle / halfLifeMillis + Math.log(costPerByte(c.size(), overhead)) / LN2;
    });
  }

  /** Largest first: frees space with the fewest removals; ignores use entirely. */
  static EvictionPolicy largestFirst() {
    return byScore("largest first", (c, now) -> -c.size());
  }

  /**
   * Greedy-Dual-Size-Frequency (Cherkasova 1998) with cost = size + overhead, so for big blobs
   * value = L + frequency (LFU with dynamic aging). Keeps a per-blob priority and the inflation L, which
   * the index does not have: a reference only.
   */
  static final class Gdsf implements SimPolicy {
    private final long overhead;
    private final Map<Digest, double[]> state = new HashMap<>(); // {frequency, priority}
    private double inflation;

    Gdsf(long overhead) {
      this.overhead = overhead;
    }

    @Override
    public String name() {
      return "GDSF (per-blob state)";
    }

    @Override
    public void reset(Trace trace) {
      state.clear();
      inflation = 0;
    }

    @Override
    public void onAccess(Digest d, long size, long now, boolean hit) {
      double[] s = state.computeIfAbsent(d, k -> new double[2]);
      s[0]++;
      s[1] = inflation + s[0] * costPerByte(size, overhead);
    }

    @Override
    public void onEvict(Digest d) {
      double[] s = state.remove(d);
      inflation = Math.max(inflation, s[1]);
    }

    @Override
    public List<Digest> selectVictims(List<EvictionCandidate> candidates, long bytesToFree, long now) {
      return Victims.take(candidates, bytesToFree,
          Comparator.comparingDouble((EvictionCandidate c) -> state.get(c.digest())[1])
              .thenComparingLong(EvictionCandidate::lastAccessMillis)
              .thenComparing(Victims.BY_DIGEST));
    }
  }

  /**
   * Exact exponentially decayed request count (LRFU's CRF, Lee et al. 2001) with a per-blob value updated on
   * every access: what the pullmesh policy estimates from the index's three numbers. A reference only.
   */
  static final class Lrfu implements SimPolicy {
    private final double halfLife;
    private final long overhead;
    private final Map<Digest, double[]> state = new HashMap<>(); // {crf at last access, last access}

    Lrfu(long halfLifeMillis, long overhead) {
      this.halfLife = halfLifeMillis;
      this.overhead = overhead;
    }

    @Override
    public String name() {
      return "exact decayed count (per-blob state)";
    }

    @Override
    public void reset(Trace trace) {
      state.clear();
    }

    @Override
    public void onAccess(Digest d, long size, long now, boolean hit) {
      double[] s = state.get(d);
      if (s == null) {
        state.put(d, new double[] {1, now});
      } else {
        s[0] = 1 + s[0] * Math.pow(2, -(now - s[1]) / halfLife);
        s[1] = now;
      }
    }

    @Override
    public void onEvict(Digest d) {
      state.remove(d);
    }

    @Override
    public List<Digest> selectVictims(List<EvictionCandidate> candidates, long bytesToFree, long now) {
      ToDoubleFunction<EvictionCandidate> log2Value = c -> {
        double[] s = state.get(c.digest());
        return Math.log(s[0]) / LN2 - (now - s[1]) / halfLife + Math.log(costPerByte(c.size(), overhead)) / LN2;
      };
      return Victims.take(candidates, bytesToFree,
          Comparator.comparingDouble(log2Value)
              .thenComparingLong(EvictionCandidate::lastAccessMillis)
              .thenComparing(Victims.BY_DIGEST));
    }
  }

  /**
   * Clairvoyant: evicts the blob whose next request is furthest away (never requested again first). Belady's
   * rule is optimal for equal sizes only; with sizes it is a strong reference, not a bound.
   */
  static final class Belady implements SimPolicy {
    private final Map<Digest, long[]> requestTimes = new HashMap<>();

    @Override
    public String name() {
      return "Belady (clairvoyant)";
    }

    @Override
    public void reset(Trace trace) {
      Map<Digest, List<Long>> times = new HashMap<>();
      for (Trace.Pull p : trace.pulls()) {
        for (Trace.Blob b : p.blobs()) {
          times.computeIfAbsent(b.digest(), k -> new ArrayList<>()).add(CacheSimulator.EPOCH + p.timeMillis());
        }
      }
      requestTimes.clear();
      times.forEach((d, l) -> requestTimes.put(d, l.stream().mapToLong(Long::longValue).toArray()));
    }

    long nextRequest(Digest d, long now) {
      long[] t = requestTimes.get(d);
      int i = Arrays.binarySearch(t, now + 1);
      if (i < 0) {
        i = -i - 1;
      } else {
        while (i > 0 && t[i - 1] > now) {
          i--;
        }
      }
      return i < t.length ? t[i] : Long.MAX_VALUE;
    }

    @Override
    public List<Digest> selectVictims(List<EvictionCandidate> candidates, long bytesToFree, long now) {
      return Victims.take(candidates, bytesToFree,
          Comparator.comparingLong((EvictionCandidate c) -> -nextRequest(c.digest(), now))
              .thenComparingLong(c -> -c.size())
              .thenComparing(Victims.BY_DIGEST));
    }
  }
}
