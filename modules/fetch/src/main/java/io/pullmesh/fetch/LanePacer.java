package io.pullmesh.fetch;

import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * The node's lanes paced as {@link RateShares} (the upstream cap, {@code --upstream-rate}) and {@link BufferBudget} (the
 * memory for bytes between socket and disk, {@code --download-buffer-memory}) decide: a lane reads only under a grant of
 * both (peer lanes only of memory), and when a grant runs out it is paused until the next one comes, on a timer as the
 * rate's bucket fills or as writes give memory back. Bodies are paused by Netty's backpressure (the lane pauses its
 * response, reading stops, TCP's window closes); nothing sleeps or blocks.
 *
 * <p>Not for what a lane's bytes are or where they go ({@link LaneWriter}), nor for the decisions themselves.
 *
 * <p>Thread-safety: everything is guarded by {@code this}; the lanes' resume actions and the timer are run outside it.
 */
final class LanePacer {
  /** Grant of memory a lane reserves at a time. */
  static final long MEMORY_GRANT = 64 << 10;

  /** One lane as the pacer sees it. */
  interface Pace {
    /**
     * The lane may start reading: true at once, or false when it waits and {@code resume} (given to {@link #lane}) runs
     * when it may.
     */
    boolean start();

    /** The lane read {@code bytes}: true while it may read on; false when it must pause now ({@code resume} runs later). */
    boolean read(int bytes);

    /** {@code bytes} the lane had read are written (or dropped): memory given back. */
    void released(long bytes);

    /** The lane is over: it stops waiting, and what it did not use of its grants goes back. Once. */
    void end();

    /** Whether the lane waits for a grant now (its quiet time is the pacer's doing, not its source's). */
    boolean waiting();

    /** Whether the lane ever waited for the upstream cap (its rate is the cap's, not its source's). */
    boolean capped();
  }

  private static final Pace FREE = new Pace() {
    @Override
    public boolean start() {
      return true;
    }

    @Override
    public boolean read(int bytes) {
      return true;
    }

    @Override
    public void released(long bytes) {}

    @Override
    public void end() {}

    @Override
    public boolean waiting() {
      return false;
    }

    @Override
    public boolean capped() {
      return false;
    }
  };

  private final long rateLimit;
  private final RateShares<Lane> shares;
  private final BufferBudget<Lane> budget;
  private final Timers timers;
  private final LongSupplier nanoTime;
  // guarded by this
  private boolean timerArmed;

  /**
   * @param bytesPerSecond the upstream cap, 0 for none
   * @param bufferBytes the memory budget, 0 for none
   */
  LanePacer(long bytesPerSecond, long bufferBytes, Timers timers, LongSupplier nanoTime) {
    this.rateLimit = bytesPerSecond;
    this.nanoTime = nanoTime;
    this.timers = timers;
    this.shares = bytesPerSecond > 0 ? new RateShares<>(bytesPerSecond, quantum(bytesPerSecond), nanoTime.getAsLong()) : null;
    this.budget = bufferBytes > 0 ? new BufferBudget<>(bufferBytes) : null;
  }

  /** A rate grant: 1/32 of a second of the cap, from 8 to 64 KiB (fine enough to share, coarse enough to be cheap). */
  static long quantum(long bytesPerSecond) {
    return Math.max(8 << 10, Math.min(64 << 10, bytesPerSecond / 32));
  }

  /** The upstream cap, bytes per second; 0 for none. */
  long rateLimit() {
    return rateLimit;
  }

  /** Bytes of the memory budget reserved or held now (0 without a budget). */
  synchronized long bufferHeld() {
    return budget == null ? 0 : budget.held();
  }

  /** Whether lanes wait for buffer memory now: a download should not open more lanes that could only wait. */
  synchronized boolean crowded() {
    return budget != null && budget.waitingLanes() > 0;
  }

  /** The memory budget, bytes; 0 for none. */
  long bufferLimit() {
    return budget == null ? 0 : budget.limit();
  }

  /** The most the memory budget has held. */
  synchronized long bufferPeak() {
    return budget == null ? 0 : budget.peak();
  }

  /**
   * The pace of a new lane of {@code download}; {@code upstream} lanes are capped, peer lanes only budgeted.
   *
   * @param resume run (outside any lock, on whatever thread granted it) when a waiting lane may read again
   */
  Pace lane(Object download, boolean upstream, Runnable resume) {
    boolean rated = upstream && shares != null;
    if (!rated && budget == null) {
      return FREE;
    }
    return new Lane(download, rated, resume);
  }

  /** One lane's grants; its fields are guarded by the pacer. */
  private final class Lane implements Pace {
    private final Object download;
    private final boolean rated;
    private final Runnable resume;
    private long memory;
    private long rate;
    private boolean waitingMemory;
    private boolean waitingRate;
    private boolean everCapped;
    private boolean ended;

    Lane(Object download, boolean rated, Runnable resume) {
      this.download = download;
      this.rated = rated;
      this.resume = resume;
    }

    @Override
    public boolean start() {
      boolean go;
      synchronized (LanePacer.this) {
        go = refill();
      }
      armTimer();
      return go;
    }

    @Override
    public boolean read(int bytes) {
      boolean go;
      synchronized (LanePacer.this) {
        if (ended) {
          return true;
        }
        if (budget != null) {
          long over = bytes - memory;
          memory = Math.max(0, memory - bytes);
          if (over > 0) {
            budget.overdrawn(over);
          }
        }
        if (rated) {
          long over = bytes - rate;
          rate = Math.max(0, rate - bytes);
          if (over > 0) {
            shares.overdrawn(over);
          }
        }
        go = refill();
      }
      armTimer();
      return go;
    }

    /** Under the pacer's lock: takes the next grants this lane needs; false when it must wait. */
    private boolean refill() {
      if (waitingMemory || waitingRate) {
        return false;
      }
      if (budget != null && memory == 0) {
        if (!budget.reserve(this, MEMORY_GRANT)) {
          waitingMemory = true;
          return false;
        }
        memory = Math.min(MEMORY_GRANT, budget.limit());
      }
      if (rated && rate == 0) {
        long g = shares.ask(download, this, nanoTime.getAsLong());
        if (g == 0) {
          waitingRate = everCapped = true;
          return false;
        }
        rate = g;
      }
      return true;
    }

    @Override
    public void released(long bytes) {
      List<Runnable> go;
      synchronized (LanePacer.this) {
        if (ended) {
          return; // an ended lane held nothing more: what came after its end was never counted
        }
        go = giveMemory(bytes);
      }
      armTimer();
      go.forEach(Runnable::run);
    }

    @Override
    public void end() {
      List<Runnable> go = List.of();
      synchronized (LanePacer.this) {
        if (ended) {
          return;
        }
        ended = true;
        if (rated) {
          shares.leave(this, rate);
          rate = 0;
        }
        if (budget != null) {
          budget.leave(this);
          long unused = memory;
          memory = 0;
          go = giveMemory(unused);
        }
      }
      armTimer();
      go.forEach(Runnable::run);
    }

    @Override
    public boolean waiting() {
      synchronized (LanePacer.this) {
        return waitingMemory || waitingRate;
      }
    }

    @Override
    public boolean capped() {
      synchronized (LanePacer.this) {
        return everCapped;
      }
    }
  }

  /** Under the lock: gives memory back and returns the resumes of the lanes that may read now. */
  private List<Runnable> giveMemory(long bytes) {
    assert Thread.holdsLock(this);
    if (budget == null || bytes <= 0) {
      return List.of();
    }
    List<Runnable> go = new ArrayList<>();
    for (Grant<Lane> g : budget.give(bytes)) {
      Lane l = g.lane();
      l.waitingMemory = false;
      l.memory = g.bytes();
      if (l.ended) {
        go.addAll(giveMemory(l.memory)); // cannot happen (an ended lane left the queue), but never leak a grant
        l.memory = 0;
      } else if (l.refill()) {
        go.add(l.resume);
      }
    }
    return go;
  }

  /** Sets the timer for the next rate grant, if lanes wait for one and none is set. Outside the lock. */
  private void armTimer() {
    if (shares == null) {
      return;
    }
    long delayNanos;
    synchronized (this) {
      if (timerArmed || (delayNanos = shares.nanosUntilDue(nanoTime.getAsLong())) < 0) {
        return;
      }
      timerArmed = true;
    }
    timers.once(Math.max(1, (delayNanos + 999_999) / 1_000_000), this::grantDue);
  }

  /** The timer: grants the waiting lanes the bucket can pay for now, and resumes them. */
  private void grantDue() {
    List<Runnable> go = new ArrayList<>();
    synchronized (this) {
      timerArmed = false;
      for (Grant<Lane> g : shares.due(nanoTime.getAsLong())) {
        Lane l = g.lane();
        l.waitingRate = false;
        l.rate = g.bytes();
        // no refill() as giveMemory does: a lane asks for rate only once it holds memory (refill takes memory first)
        assert budget == null || l.memory > 0 || l.ended : "a lane waited for rate without memory";
        if (l.ended) {
          shares.leave(l, l.rate);
          l.rate = 0;
        } else {
          go.add(l.resume);
        }
      }
    }
    armTimer();
    go.forEach(Runnable::run);
  }
}
