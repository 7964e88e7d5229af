package io.pullmesh.testkit.throttle;

/** A source of monotonic nanoseconds; {@link #system()} in production, a manual one in tests. */
@FunctionalInterface
public interface Ticker {
  long nanos();

  static Ticker system() {
    return System::nanoTime;
  }
}
