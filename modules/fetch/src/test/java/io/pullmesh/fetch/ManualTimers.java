package io.pullmesh.fetch;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Stands for the Vert.x timers of a node ({@link Timers#of}) in a download's unit tests: nothing fires until the test
 * moves the clock with {@link #advance}, which also moves the ticker a download reads its stall times from. Tasks run
 * on the test's thread.
 */
final class ManualTimers implements Timers {
  private record Task(long id, long dueMs, long periodMs, Runnable run) {}

  private final List<Task> tasks = new ArrayList<>();
  private final AtomicLong nowMs = new AtomicLong();
  private long nextId = 1;

  /** The ticker: nanoseconds on this clock. */
  long nanoTime() {
    return nowMs.get() * 1_000_000L;
  }

  @Override
  public synchronized long once(long delayMs, Runnable task) {
    tasks.add(new Task(nextId, nowMs.get() + Math.max(1, delayMs), 0, task));
    return nextId++;
  }

  @Override
  public synchronized long every(long periodMs, Runnable task) {
    tasks.add(new Task(nextId, nowMs.get() + periodMs, periodMs, task));
    return nextId++;
  }

  @Override
  public synchronized void cancel(long id) {
    tasks.removeIf(t -> t.id() == id);
  }

  synchronized int pending() {
    return tasks.size();
  }

  /** Moves the clock by {@code ms}, running every task that falls due on the way, in order. */
  void advance(long ms) {
    long until = nowMs.get() + ms;
    while (true) {
      Task next;
      synchronized (this) {
        next = tasks.stream().filter(t -> t.dueMs() <= until).min(Comparator.comparingLong(Task::dueMs)).orElse(null);
        if (next == null) {
          nowMs.set(until);
          return;
        }
        tasks.remove(next);
        nowMs.set(Math.max(nowMs.get(), next.dueMs()));
        if (next.periodMs() > 0) {
          tasks.add(new Task(next.id(), next.dueMs() + next.periodMs(), next.periodMs(), next.run()));
        }
      }
      next.run().run();
    }
  }
}
