package io.pullmesh.seeder;

import io.pullmesh.core.Bytes;
import java.io.PrintStream;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;

/**
 * Warms a list of models through a running node now and then on a {@link Schedule}, on a thread of its own, until
 * closed. The names are read again before each run, so a list file can be edited while the node runs. A failed model
 * or an unreadable list is reported and tried again at the next run.
 */
final class Rewarmer implements AutoCloseable {
  /** Where the names come from (read before each run). */
  interface Names {
    List<String> get() throws java.io.IOException;
  }

  private static final DateTimeFormatter WHEN = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss z");

  private final Names names;
  private final String what;
  private final LoopbackPuller puller;
  private final Schedule schedule;
  private final Clock clock;
  private final PrintStream out;
  private final PrintStream err;
  private final Thread thread;
  private volatile boolean closed;

  /** @param what the list's name for messages, e.g. {@code the list /etc/pullmesh/models.txt} */
  Rewarmer(Names names, String what, LoopbackPuller puller, Schedule schedule, Clock clock, PrintStream out, PrintStream err) {
    this.names = names;
    this.what = what;
    this.puller = puller;
    this.schedule = schedule;
    this.clock = clock;
    this.out = out;
    this.err = err;
    this.thread = new Thread(this::loop, "pullmesh-rewarm");
    this.thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  private void loop() {
    Instant due = clock.instant();
    try {
      while (!closed) {
        runOnce();
        if (schedule == null) {
          return;
        }
        due = schedule.next(due, clock.instant());
        out.println("pullmesh-seeder: next warm-up of " + what + " at " + WHEN.format(due.atZone(zone())));
        out.flush();
        sleepUntil(due);
      }
    } catch (InterruptedException e) {
      // closed
    }
  }

  private ZoneId zone() {
    return schedule instanceof Schedule.DailyAt d ? d.zone() : clock.getZone();
  }

  private void runOnce() throws InterruptedException {
    List<String> list;
    try {
      list = names.get();
    } catch (java.io.IOException e) {
      err.println("pullmesh-seeder: cannot warm " + what + ": " + e.getMessage() + " (trying again at the next run)");
      return;
    }
    out.println("pullmesh-seeder: warming " + what + " (" + list.size() + " model(s))");
    out.flush();
    List<LoopbackPuller.Outcome> outcomes = puller.pullAll(list);
    if (closed) {
      return;
    }
    List<String> failed = new ArrayList<>();
    long bytes = 0;
    int ok = 0;
    for (LoopbackPuller.Outcome o : outcomes) {
      if (o.ok()) {
        ok++;
        bytes += o.bytes();
      } else {
        failed.add(o.name() + " (" + o.error() + ")");
      }
    }
    out.println("pullmesh-seeder: " + what + ": " + ok + " of " + outcomes.size() + " model(s) in the cache (" + Bytes.human(bytes) + ")"
        + (failed.isEmpty() ? "" : "; failed: " + String.join(", ", failed)));
    out.flush();
  }

  /** Sleeps in steps of at most a minute, so a clock that jumps (suspend, NTP) is followed. */
  private void sleepUntil(Instant due) throws InterruptedException {
    while (!closed) {
      Duration left = Duration.between(clock.instant(), due);
      if (left.isNegative() || left.isZero()) {
        return;
      }
      Thread.sleep(Math.max(1, Math.min(left.toMillis(), 60_000)));
    }
  }

  @Override
  public void close() {
    closed = true;
    thread.interrupt();
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
