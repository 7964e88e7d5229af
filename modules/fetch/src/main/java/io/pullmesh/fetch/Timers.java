package io.pullmesh.fetch;

import io.vertx.core.Vertx;

/**
 * Timers a download sets: one-shot delays (backoff) and periodic ticks (the stall watch, the persister, the mesh tick).
 * On Vert.x in a node; a test drives them by hand with its clock. Not a clock: time is read from a {@code LongSupplier}
 * of nanoseconds (the ticker) given beside it.
 */
interface Timers {
  /** Runs {@code task} once after {@code delayMs}; returns an id for {@link #cancel}. */
  long once(long delayMs, Runnable task);

  /** Runs {@code task} every {@code periodMs}; returns an id for {@link #cancel}. */
  long every(long periodMs, Runnable task);

  void cancel(long id);

  static Timers of(Vertx vertx) {
    return new Timers() {
      @Override
      public long once(long delayMs, Runnable task) {
        return vertx.setTimer(Math.max(1, delayMs), id -> task.run());
      }

      @Override
      public long every(long periodMs, Runnable task) {
        return vertx.setPeriodic(periodMs, id -> task.run());
      }

      @Override
      public void cancel(long id) {
        vertx.cancelTimer(id);
      }
    };
  }
}
