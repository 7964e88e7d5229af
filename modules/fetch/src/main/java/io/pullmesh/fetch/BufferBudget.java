package io.pullmesh.fetch;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The node's one budget for download bytes held in memory between the socket and the disk
 * ({@code --download-buffer-memory}), as a decision: may a lane reserve this many bytes before it reads them. A lane
 * reads only under a reservation; the bytes stay counted while they wait for the disk and are given back as they are
 * written. A lane that does not fit waits, first come first served, and is granted when writes give bytes back. Bytes a
 * lane read past its reservation (the network read that landed before its pause) are counted as they are
 * ({@link #overdrawn}), so {@link #held} is the truth, which may pass the limit by at most that one read per lane.
 *
 * <p>Pure: lanes are opaque keys; it pauses nothing ({@link LanePacer} does). Not for the upstream rate
 * ({@link RateShares}). Not thread-safe: its owner locks it.
 *
 * @param <L> a lane
 */
final class BufferBudget<L> {
  private final long limit;
  private long held;
  private long peak;
  private final LinkedHashMap<L, Long> waiting = new LinkedHashMap<>();

  BufferBudget(long limit) {
    if (limit <= 0) {
      throw new IllegalArgumentException("buffer budget " + limit);
    }
    this.limit = limit;
  }

  long limit() {
    return limit;
  }

  /** Bytes reserved or held now. */
  long held() {
    return held;
  }

  /** The most {@link #held} has been. */
  long peak() {
    return peak;
  }

  /**
   * Reserves {@code bytes} (at most the limit) for {@code lane}: true when made now; false when the lane waits for
   * {@link #give} to grant it (no one jumps the queue).
   */
  boolean reserve(L lane, long bytes) {
    long b = Math.min(bytes, limit);
    if (waiting.isEmpty() && held + b <= limit) {
      take(b);
      return true;
    }
    waiting.put(lane, b);
    return false;
  }

  /** Bytes a lane read past its reservation: held as they are. */
  void overdrawn(long bytes) {
    take(bytes);
  }

  /** {@code bytes} were written or dropped: given back; returns the waiting lanes whose reservations now fit, in order. */
  List<Grant<L>> give(long bytes) {
    held -= bytes;
    if (held < 0) {
      throw new IllegalStateException("gave back more than was held: " + held);
    }
    List<Grant<L>> out = new ArrayList<>();
    var it = waiting.entrySet().iterator();
    while (it.hasNext()) {
      Map.Entry<L, Long> e = it.next();
      if (held + e.getValue() > limit) {
        break;
      }
      it.remove();
      take(e.getValue());
      out.add(new Grant<>(e.getKey(), e.getValue()));
    }
    return out;
  }

  /** The lane ended: it stops waiting. What it held it gives back with {@link #give}. */
  void leave(L lane) {
    waiting.remove(lane);
  }

  int waitingLanes() {
    return waiting.size();
  }

  private void take(long bytes) {
    held += bytes;
    peak = Math.max(peak, held);
  }
}
