package io.pullmesh.fetch;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * The timers of a running download: the stall watch, the piece recorder and, in a mesh, the mesh tick. Set once when
 * fetching starts and cancelled once when the download ends, outside its lock. Not the work itself: that is its owner's.
 *
 * <p>{@link #stop} is called holding the download's lock ({@code guard}).
 */
final class Heartbeat {
  private final Object guard;
  private final Timers timers;
  private final List<Long> ids = new ArrayList<>();

  Heartbeat(Object guard, Timers timers) {
    this.guard = guard;
    this.timers = timers;
  }

  /**
   * Sets the timers, unless the download ended meanwhile.
   *
   * @param running whether the download still runs (read under the lock)
   * @param meshTick the mesh tick, or null for a node alone
   * @return whether they were set
   */
  boolean start(BooleanSupplier running, long watchMs, Runnable watch, long persistMs, Runnable persist, Runnable meshTick) {
    List<Long> set = new ArrayList<>(List.of(timers.every(watchMs, watch), timers.every(persistMs, persist)));
    if (meshTick != null) {
      set.add(timers.every(PeerMeshTie.TICK_MS, meshTick));
    }
    synchronized (guard) {
      if (running.getAsBoolean()) {
        ids.addAll(set);
        return true;
      }
    }
    cancel(set);
    return false;
  }

  /** Takes the timers to {@link #cancel} outside the lock; under the lock. */
  List<Long> stop() {
    assert Thread.holdsLock(guard);
    List<Long> out = new ArrayList<>(ids);
    ids.clear();
    return out;
  }

  void cancel(List<Long> stopped) {
    stopped.forEach(timers::cancel);
  }
}
