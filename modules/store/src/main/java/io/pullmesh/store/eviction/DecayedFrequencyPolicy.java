package io.pullmesh.store.eviction;

import io.pullmesh.core.Digest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

/**
 * The pullmesh eviction policy: removes the blobs with the lowest <em>value per byte</em>, where value is a
 * blob's recent request count with old requests counting less, so that the bytes kept are the bytes most
 * likely to be asked for again. Full rationale and measurements: docs/eviction.md.
 *
 * <h2>The score</h2>
 *
 * For a candidate with {@code n = accessCount + 1} requests (the download plus its hits), the first at its
 * commit time, the last {@code idle} ago, and a half-life {@code H}:
 *
 * <pre>
 *   spacing = max((lastAccess - created) / (n - 1), idle)          (n &gt;= 2; unused when n = 1)
 *   decayed = sum over k = 0 .. n-1 of 2^-((idle + k * spacing) / H)
 *   value   = decayed * (size + fetchOverhead) / size
 * </pre>
 *
 * and candidates are removed lowest value first (ties: least recently used, then smallest digest).
 *
 * <ul>
 *   <li><b>Decayed request count.</b> A request counts 1 when it happens and half as much every {@code H}
 *       later (the CRF of Lee et al.'s LRFU). The index does not keep every request's time, only the first,
 *       the last and the count, so the requests are taken as evenly spaced between the first and the last;
 *   <li><b>but never closer than the current silence.</b> A model pulled every hour for a month and not at
 *       all for a week is no longer an hourly model. Taking the spacing as at least the time since the last
 *       request makes a model whose pulls stopped lose its history within a few half-lives, instead of
 *       living on its old count. (Measured: without this rule the policy loses to LRU when popularity
 *       shifts; with it, it never did on any trace tried.)
 *   <li><b>Per byte, with the cost of a fetch.</b> Keeping a blob costs its size; a hit on it saves its size
 *       in WAN bytes, so for byte hit ratio the value per byte of a big blob is just its request rate and a
 *       4 GB and a 400 MB blob with the same request history rank the same. A fetch also costs a fixed
 *       overhead (round trips, a redirect), counted as {@code fetchOverhead} bytes: irrelevant to a model's
 *       weights (+0.2% on 500 MB), decisive for its kilobyte-sized template, config and license blobs, which
 *       are worth about a thousand times their bytes and so are practically never chosen while big blobs
 *       remain (a 1 KB blob goes before a big one only when it is about ten half-lives staler).
 * </ul>
 *
 * <h2>Properties</h2>
 *
 * <ul>
 *   <li><b>Scan resistant.</b> A blob pulled once has value {@code 2^-idle/H <= 1}; a model pulled a few times
 *       a week has more, so one-off pulls of big models are the first to go and do not flush popular ones.
 *   <li><b>Ageing.</b> Every value halves per half-life of silence; a model popular last month and unused
 *       since ranks below one used moderately this week.
 *   <li><b>No state.</b> Everything comes from the index's record of each blob (persisted already) and
 *       {@code nowMillis}; there is nothing else to store, and a restart changes nothing. Only differences of
 *       times matter, never the clock's epoch.
 *   <li><b>Clock steps tolerated.</b> Times after {@code now} count as {@code now}; a last access before the
 *       commit counts as the commit.
 * </ul>
 *
 * <p>Immutable and thread-safe.
 */
public final class DecayedFrequencyPolicy implements EvictionPolicy {
  /**
   * Default half-life of a request's weight: three days. Chosen by measurement (docs/eviction.md): shorter
   * forgets popular models over a weekend, longer keeps fading models too long when popularity shifts.
   */
  public static final Duration DEFAULT_HALF_LIFE = Duration.ofDays(3);

  /**
   * Default fixed cost of one fetch, in bytes: 1 MiB, roughly what a 100 Mbit/s line carries during the
   * round trips a fetch starts with (registry, redirect, CDN). It makes blobs under ~100 KB worth keeping
   * far beyond their size, and changes nothing measurable for model weights.
   */
  public static final long DEFAULT_FETCH_OVERHEAD_BYTES = 1L << 20;

  private static final double LN2 = Math.log(2);

  private final Duration halfLife;
  private final double halfLifeMillis;
  private final long fetchOverheadBytes;

  /**
   * @param halfLife how long until a request counts half; positive
   * @param fetchOverheadBytes the fixed cost of a fetch, in bytes; {@code >= 0} (0: rank by request history
   *     alone, whatever the size)
   * @throws IllegalArgumentException when {@code halfLife} is not positive or {@code fetchOverheadBytes} is
   *     negative
   */
  public DecayedFrequencyPolicy(Duration halfLife, long fetchOverheadBytes) {
    Objects.requireNonNull(halfLife, "halfLife");
    if (halfLife.isNegative() || halfLife.isZero()) {
      throw new IllegalArgumentException("halfLife must be positive, got " + halfLife);
    }
    if (fetchOverheadBytes < 0) {
      throw new IllegalArgumentException("fetchOverheadBytes must be >= 0, got " + fetchOverheadBytes);
    }
    this.halfLife = halfLife;
    this.halfLifeMillis = Math.max(1, halfLife.toMillis());
    this.fetchOverheadBytes = fetchOverheadBytes;
  }

  /** The policy with {@link #DEFAULT_HALF_LIFE} and {@link #DEFAULT_FETCH_OVERHEAD_BYTES}. */
  public static DecayedFrequencyPolicy withDefaults() {
    return new DecayedFrequencyPolicy(DEFAULT_HALF_LIFE, DEFAULT_FETCH_OVERHEAD_BYTES);
  }

  @Override
  public List<Digest> selectVictims(List<EvictionCandidate> candidates, long bytesToFree, long nowMillis) {
    Victims.requireDistinct(candidates);
    if (bytesToFree <= 0 || candidates.isEmpty()) {
      return List.of();
    }
    List<Scored> scored = new ArrayList<>(candidates.size());
    for (EvictionCandidate c : candidates) {
      scored.add(new Scored(c, log2Value(c, nowMillis)));
    }
    scored.sort(Comparator.comparingDouble(Scored::log2Value)
        .thenComparingLong(s -> s.candidate().lastAccessMillis())
        .thenComparing(Scored::candidate, Victims.BY_DIGEST));
    List<EvictionCandidate> ordered = new ArrayList<>(scored.size());
    for (Scored s : scored) {
      ordered.add(s.candidate());
    }
    return Victims.prefix(ordered, bytesToFree);
  }

  /**
   * The base-2 logarithm of {@code c}'s value per byte at {@code nowMillis} (the class comment's
   * {@code value}); lower is evicted first. Logarithms keep long silences from underflowing to zero, where
   * every cold blob would tie. {@code +Infinity} for an empty blob, which frees nothing.
   */
  double log2Value(EvictionCandidate c, long nowMillis) {
    long last = Math.min(c.lastAccessMillis(), nowMillis);
    long created = Math.min(c.createdMillis(), last);
    double idle = (double) nowMillis - last;
    double n = c.requests();
    double log2Sum;
    if (n == 1) {
      log2Sum = 0;
    } else {
      double spacing = Math.max(((double) last - created) / (n - 1), idle);
      // sum_{k<n} r^k with r = 2^(-spacing/H), written with expm1 so that r close to 1 keeps its precision
      double a = spacing * LN2 / halfLifeMillis;
      log2Sum = a == 0 ? log2(n) : log2(Math.expm1(-n * a) / Math.expm1(-a));
    }
    double log2CostPerByte = c.size() == 0 ? Double.POSITIVE_INFINITY
        : log2(((double) c.size() + fetchOverheadBytes) / c.size());
    return log2Sum - idle / halfLifeMillis + log2CostPerByte;
  }

  private static double log2(double x) {
    return Math.log(x) / LN2;
  }

  @Override
  public String toString() {
    return "DecayedFrequency(halfLife=" + halfLife + ", fetchOverhead=" + fetchOverheadBytes + " B)";
  }

  private record Scored(EvictionCandidate candidate, double log2Value) {
  }
}
