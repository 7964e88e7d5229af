package io.pullmesh.fetch;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The node's upstream bandwidth cap ({@code --upstream-rate}) as a decision: which lane may read how many more bytes
 * now. A token bucket filled at the cap; a lane reads only under a grant of {@link #quantum} bytes taken from it. While
 * the bucket has a quantum and no one waits, a lane is granted at once; otherwise it waits, and waiting lanes are
 * granted as the bucket fills, one grant per download in turn (round-robin over downloads, first come first served
 * within one), so that downloads share the cap equally however many lanes each runs. Bytes a lane read past its grant
 * (the network read that landed before its pause) are taken from the bucket too; what a lane did not use of its grant
 * when it ended is given back.
 *
 * <p>Pure: time comes in as nanoseconds on the caller's ticker, lanes and downloads are opaque keys; it pauses nothing
 * and sets no timer ({@link LanePacer} does). Not for peer bytes (never capped) nor for memory ({@link BufferBudget}).
 * Not thread-safe: its owner locks it.
 *
 * @param <L> a lane
 */
final class RateShares<L> {
  private final long bytesPerSecond;
  private final long quantum;
  private final long capacity;
  private double tokens;
  private long filledAt;
  /** Waiting lanes per download, downloads in the order of their turn. */
  private final LinkedHashMap<Object, ArrayDeque<L>> waiting = new LinkedHashMap<>();
  private final Map<L, Object> downloadOf = new java.util.HashMap<>();

  /**
   * @param bytesPerSecond the cap, more than 0
   * @param quantum bytes of one grant: the unit of fairness
   * @param now the ticker now: the bucket starts full
   */
  RateShares(long bytesPerSecond, long quantum, long now) {
    if (bytesPerSecond <= 0 || quantum <= 0) {
      throw new IllegalArgumentException("rate " + bytesPerSecond + ", quantum " + quantum);
    }
    this.bytesPerSecond = bytesPerSecond;
    this.quantum = quantum;
    // a tenth of a second of the cap, at least two grants: bursts stay short, so the rate over any second stays near the cap
    this.capacity = Math.max(2 * quantum, bytesPerSecond / 10);
    this.tokens = capacity;
    this.filledAt = now;
  }

  long quantum() {
    return quantum;
  }

  long bytesPerSecond() {
    return bytesPerSecond;
  }

  /**
   * {@code lane} of {@code download} wants to read: its grant now (bytes, more than 0), or 0 when it must wait for
   * {@link #due}. A lane asks again only after it was granted (it waits at most once at a time).
   */
  long ask(Object download, L lane, long now) {
    fill(now);
    if (waiting.isEmpty() && tokens >= quantum) {
      tokens -= quantum;
      return quantum;
    }
    waiting.computeIfAbsent(download, d -> new ArrayDeque<>()).addLast(lane);
    downloadOf.put(lane, download);
    return 0;
  }

  /** Grants for waiting lanes now, one per download in turn while the bucket has a quantum. */
  List<Grant<L>> due(long now) {
    fill(now);
    List<Grant<L>> out = new ArrayList<>();
    while (!waiting.isEmpty() && tokens >= quantum) {
      Iterator<Map.Entry<Object, ArrayDeque<L>>> it = waiting.entrySet().iterator();
      Map.Entry<Object, ArrayDeque<L>> turn = it.next();
      L lane = turn.getValue().pollFirst();
      it.remove();
      if (!turn.getValue().isEmpty()) {
        waiting.put(turn.getKey(), turn.getValue()); // to the back of the round
      }
      downloadOf.remove(lane);
      tokens -= quantum;
      out.add(new Grant<>(lane, quantum));
    }
    return out;
  }

  /**
   * Nanoseconds from {@code now} until {@link #due} can grant the next waiting lane; -1 when none waits.
   */
  long nanosUntilDue(long now) {
    if (waiting.isEmpty()) {
      return -1;
    }
    fill(now);
    double missing = quantum - tokens;
    return missing <= 0 ? 0 : (long) Math.ceil(missing * 1e9 / bytesPerSecond);
  }

  /** A lane read {@code bytes} past its grant: they come out of the bucket (it may go below zero, and others wait longer). */
  void overdrawn(long bytes) {
    tokens -= bytes;
  }

  /** A lane ended: it stops waiting, and the {@code unused} bytes of its grant go back to the bucket. */
  void leave(L lane, long unused) {
    Object d = downloadOf.remove(lane);
    if (d != null) {
      ArrayDeque<L> q = waiting.get(d);
      q.remove(lane);
      if (q.isEmpty()) {
        waiting.remove(d);
      }
    }
    tokens = Math.min(capacity, tokens + Math.max(0, unused));
  }

  /** Lanes waiting now. */
  int waitingLanes() {
    return downloadOf.size();
  }

  private void fill(long now) {
    if (now > filledAt) {
      tokens = Math.min(capacity, tokens + (now - filledAt) * (double) bytesPerSecond / 1e9);
      filledAt = now;
    }
  }
}
