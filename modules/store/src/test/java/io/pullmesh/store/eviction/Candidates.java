package io.pullmesh.store.eviction;

import io.pullmesh.core.Digest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/** Hand-made candidates for policy tests. Times in days from an arbitrary epoch, to read like a calendar. */
final class Candidates {
  static final long T0 = 1_700_000_000_000L;
  static final long DAY = 24L * 3600 * 1000;
  static final long HOUR = 3600L * 1000;
  static final long GB = 1_000_000_000L;
  static final long KB = 1000L;

  private Candidates() {
  }

  static Digest d(String name) {
    return Trace.digestOf(name);
  }

  /** At {@code day} (fractional days after T0). */
  static long at(double day) {
    return T0 + Math.round(day * DAY);
  }

  /**
   * A blob committed at {@code firstDay}, requested {@code requests} times in all (the download included), the
   * last time at {@code lastDay}.
   */
  static EvictionCandidate blob(String name, long size, int requests, double firstDay, double lastDay) {
    return new EvictionCandidate(d(name), size, at(lastDay), requests - 1, at(firstDay));
  }

  static List<Digest> digests(String... names) {
    List<Digest> l = new ArrayList<>();
    for (String n : names) {
      l.add(d(n));
    }
    return l;
  }

  static List<EvictionCandidate> shuffled(List<EvictionCandidate> in, long seed) {
    List<EvictionCandidate> l = new ArrayList<>(in);
    Collections.shuffle(l, new Random(seed));
    return l;
  }

  /** The same candidates with every time moved by {@code delta} ms. */
  static List<EvictionCandidate> shiftedBy(List<EvictionCandidate> in, long delta) {
    List<EvictionCandidate> l = new ArrayList<>();
    for (EvictionCandidate c : in) {
      l.add(new EvictionCandidate(c.digest(), c.size(), c.lastAccessMillis() + delta, c.accessCount(),
          c.createdMillis() + delta));
    }
    return l;
  }
}
