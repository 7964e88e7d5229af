package io.pullmesh.fetch;

import java.util.ArrayDeque;

/** Bytes per second over the last few seconds, from (time, bytes so far) samples. Pure; not thread-safe. */
final class RateMeter {
  private static final long WINDOW_NANOS = 5_000_000_000L;
  private final ArrayDeque<long[]> samples = new ArrayDeque<>();

  void sample(long nanos, long bytes) {
    samples.addLast(new long[] {nanos, bytes});
    while (samples.size() > 2 && nanos - samples.peekFirst()[0] > WINDOW_NANOS) {
      samples.pollFirst();
    }
  }

  long bytesPerSecond() {
    if (samples.size() < 2) {
      return 0;
    }
    long[] first = samples.peekFirst();
    long[] last = samples.peekLast();
    long nanos = last[0] - first[0];
    return nanos <= 0 ? 0 : (last[1] - first[1]) * 1_000_000_000L / nanos;
  }
}
