package io.pullmesh.fetch;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A download's slow-edge bookkeeping, with slow-edge handling on ({@link FetchConfig#tailRace()} above zero): which lane
 * to retire now and which piece to race, within the download's bounds (a quarter of its connections retired at most; the
 * raced bytes within the share of the blob), and which pieces have two lanes. The judgement of one lane is
 * {@link TailRace}'s. Not for opening or cutting anything: {@link LaneFetcher} does that with what this returns.
 *
 * <p>Guarded by the download's lock ({@code guard}); every method asserts it is held.
 */
final class SlowLanes {
  private final Object guard;
  private final FetchConfig config;
  private final TailRace race = new TailRace();
  /** Pieces with a second lane racing the first. */
  private final Set<Integer> racing = new HashSet<>();
  /** Bytes spent on races so far: at most {@link FetchConfig#tailRace()} of the blob. */
  private long raced;
  /** Lanes retired so far: at most {@link #maxRetired()}. */
  private int retired;

  SlowLanes(Object guard, FetchConfig config) {
    this.guard = guard;
    this.config = config;
  }

  /** Whether slow-edge handling is on at all. */
  boolean on() {
    return config.tailRace() > 0;
  }

  /** A lane that fetched {@code bytes} in {@code nanos} ended well: its rate counts towards the typical one. */
  void finished(long bytes, long nanos) {
    assert Thread.holdsLock(guard);
    race.finished(bytes, nanos);
  }

  /** The lane to retire now (counted as retired), or null: none is slow, or this download retired its share. */
  TailRace.Lane retireNow(List<TailRace.Lane> lanes, long now) {
    assert Thread.holdsLock(guard);
    if (!on() || retired >= maxRetired()) {
      return null;
    }
    TailRace.Lane l = race.retire(lanes, now, racing, maxQuietNanos());
    if (l != null) {
      retired++;
    }
    return l;
  }

  /**
   * The piece to race now, its rest reserved from the budget and the piece marked as raced, or -1: no slow lane, or its
   * rest does not fit in what is left of the budget.
   */
  int raceNow(List<TailRace.Lane> lanes, long now, PieceTable table) {
    assert Thread.holdsLock(guard);
    if (!on()) {
      return -1;
    }
    int piece = race.pick(lanes, now, racing, maxQuietNanos());
    if (piece < 0) {
      return -1;
    }
    long rest = table.lastByte(piece) + 1 - table.nextByte(piece);
    if (rest > (long) (table.layout().size() * config.tailRace()) - raced) {
      return -1;
    }
    raced += rest;
    racing.add(piece);
    return piece;
  }

  /** Piece {@code p} no longer has two lanes racing (one finished or failed); whether it had. */
  boolean raceOver(int p) {
    assert Thread.holdsLock(guard);
    return racing.remove(p);
  }

  /** A lane quiet for a quarter of the stall timeout (or 250 ms) stalled: the stall watch cuts and retries it, no race or retirement. */
  private long maxQuietNanos() {
    return Math.min(250_000_000L, config.stallTimeout().toNanos() / 4);
  }

  /** Lanes one download may retire: a bound on the bytes in flight that cutting them throws away where all lanes share a full link. */
  private int maxRetired() {
    return Math.max(2, config.connections() / 4);
  }
}
