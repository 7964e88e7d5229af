package io.pullmesh.fetch;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;

/**
 * The endgame of a download: when every piece is taken and a lane is free, which slow lane's piece gets a second lane
 * racing it for the rest of its bytes (the loser is cut when the piece is done). A lane is slow when its rate is far
 * below what lanes of this download typically reach: the "99% and it crawls" tail of a CDN edge that serves one
 * connection much slower than the others (ollama #1736, #8971), which aria2c and BitTorrent's endgame answer the same
 * way. A pure decision: it opens nothing, and it keeps the typical rate from the lanes it is told ended.
 */
final class TailRace {
  /** A lane is slow below this fraction of the typical rate. */
  static final int SLOW_RATIO = 4;
  /** A lane younger than this has no rate worth judging yet. */
  static final long MIN_AGE_NANOS = 500_000_000L;
  /** A tail shorter than this finishes before a new request would pay off. */
  static final long MIN_REMAINING = 64 << 10;
  private static final int WINDOW = 32;

  /** A lane in flight as the race sees it: when it started, what it received, what is left, how long since data came. */
  record Lane(int piece, long startedNanos, long received, long remaining, long quietNanos) {}

  private final List<Long> finishedRates = new ArrayList<>();

  /** A lane that fetched {@code bytes} in {@code nanos} ended well: its rate counts towards the typical one. */
  void finished(long bytes, long nanos) {
    if (bytes < MIN_REMAINING) {
      return;
    }
    finishedRates.add(nanos <= 0 ? Long.MAX_VALUE : bytes * 1_000_000_000L / nanos);
    if (finishedRates.size() > WINDOW) {
      finishedRates.remove(0);
    }
  }

  /** The median rate of the lanes that ended well lately, or -1 before any did. */
  long typicalRate() {
    return finishedRates.isEmpty() ? -1 : median(finishedRates);
  }

  private static long median(List<Long> rates) {
    List<Long> sorted = new ArrayList<>(rates);
    Collections.sort(sorted);
    return sorted.get(sorted.size() / 2);
  }

  /**
   * Whether {@code l} can be judged at all: at least {@code minAge} old, not raced already, with a tail worth a new request,
   * and still flowing (a lane quiet for longer than {@code maxQuietNanos} stalled: the stall watch cuts and retries it).
   */
  private static boolean judged(Lane l, long now, long minAge, Set<Integer> racing, long maxQuietNanos) {
    return now - l.startedNanos() >= minAge && !racing.contains(l.piece()) && l.remaining() >= MIN_REMAINING
        && l.quietNanos() <= maxQuietNanos;
  }

  /** A lane younger than this is not retired: its rate is not yet its own (TCP's slow start, a late first byte). */
  static final long RETIRE_AGE_NANOS = 750_000_000L;
  /** Finished lanes needed before their typical rate is trusted to retire anyone; before that, the lanes in flight tell. */
  static final int RETIRE_MIN_FINISHED = 3;
  /** Lanes in flight, old enough to judge, needed for their median rate to stand for the typical one. */
  static final int RETIRE_MIN_FLOWING = 4;

  /**
   * Before lanes have finished: the median rate of the lanes in flight old enough to judge, or -1 with fewer than
   * {@link #RETIRE_MIN_FLOWING} (the first pieces of a download take a while; a lane 16 times slower shows at once).
   */
  static long flowingRate(List<Lane> inflight, long now) {
    List<Long> rates = new ArrayList<>();
    for (Lane l : inflight) {
      long age = now - l.startedNanos();
      if (age >= MIN_AGE_NANOS) {
        rates.add(l.received() * 1_000_000_000L / age);
      }
    }
    return rates.size() < RETIRE_MIN_FLOWING ? -1 : median(rates);
  }

  /**
   * The lane to retire now, or null: a lane running far below the typical rate, old enough to judge and with a good
   * part of its piece left, which is better cut and its piece resumed from its first missing byte on another connection
   * than waited for (a slow CDN edge keeps a kept-alive connection slow for every request it carries). Retiring
   * duplicates no byte, unlike a race; the caller bounds how many lanes a download retires.
   */
  Lane retire(List<Lane> inflight, long now, Set<Integer> racing, long maxQuietNanos) {
    long typical = finishedRates.size() >= RETIRE_MIN_FINISHED ? typicalRate() : flowingRate(inflight, now);
    if (typical <= 0) {
      return null;
    }
    Lane worst = null;
    double worstRate = 0;
    for (Lane l : inflight) {
      if (!judged(l, now, RETIRE_AGE_NANOS, racing, maxQuietNanos)) {
        continue;
      }
      double rate = l.received() * 1e9 / (now - l.startedNanos());
      if (rate * SLOW_RATIO < typical && (worst == null || rate < worstRate)) {
        worst = l;
        worstRate = rate;
      }
    }
    return worst;
  }

  /**
   * The piece to race now, or -1. A lane that went quiet (nothing for longer than {@code maxQuietNanos}) is not raced:
   * it stalled, and the stall watch cuts and retries it; a race is for a lane that still flows, slowly.
   *
   * @param inflight the upstream lanes fetching pieces now
   * @param racing pieces that have a second lane already
   */
  int pick(List<Lane> inflight, long now, Set<Integer> racing, long maxQuietNanos) {
    long typical = typicalRate();
    if (typical <= 0) {
      return -1;
    }
    int best = -1;
    double latest = 0;
    for (Lane l : inflight) {
      if (!judged(l, now, MIN_AGE_NANOS, racing, maxQuietNanos)) {
        continue;
      }
      double rate = l.received() * 1e9 / (now - l.startedNanos());
      if (rate * SLOW_RATIO >= typical) {
        continue;
      }
      double finishesIn = rate <= 0 ? Double.MAX_VALUE : l.remaining() / rate;
      if (best < 0 || finishesIn > latest) {
        best = l.piece();
        latest = finishesIn;
      }
    }
    return best;
  }
}
