package io.pullmesh.seeder;

import io.pullmesh.proxy.PullmeshProxy;
import java.io.PrintStream;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * How a long-running command ({@code seed}, or {@code prefetch --every/--at}) is stopped. From the command line: by
 * SIGTERM or Ctrl-C, whose shutdown hook waits (up to 30 s) for the node to be closed. Tests pass their own.
 */
public interface Lifecycle {
  /** The node is serving. */
  default void started(PullmeshProxy node) {}

  /** Blocks until the command should stop. */
  void awaitStop() throws InterruptedException;

  /** Everything is closed. */
  default void closed() {}

  /** Runs until the JVM is asked to stop (SIGTERM, SIGINT). */
  static Lifecycle untilSignal(PrintStream err) {
    CountDownLatch stop = new CountDownLatch(1);
    CountDownLatch closed = new CountDownLatch(1);
    return new Lifecycle() {
      @Override
      public void awaitStop() throws InterruptedException {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
          err.println("pullmesh-seeder: shutting down");
          stop.countDown();
          try {
            closed.await(30, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }, "pullmesh-seeder-shutdown"));
        stop.await();
      }

      @Override
      public void closed() {
        closed.countDown();
      }
    };
  }
}
