package io.pullmesh.loadtest.gatling;

import io.pullmesh.loadtest.LoadTarget;

/** Reading and printing the proxy's counters around a simulation. */
final class Counters {
  private Counters() {}

  static double orZero(double v) {
    return Double.isNaN(v) ? 0 : v;
  }

  /** Prints what upstream carried against the model bytes, and the proxy's peak RSS (embedded mode). */
  static void report(String name, LoadTarget target, double before, long modelBytes) {
    try {
      double after = orZero(target.upstreamBlobBytes());
      System.out.printf("%s: upstream blob bytes %.0f for %d model bytes (%.4fx); proxy peak RSS %.0f MiB%n", name, after - before,
          modelBytes, (after - before) / modelBytes, target.proxyPeakRssMiB());
    } catch (RuntimeException e) {
      System.out.println(name + ": could not read the proxy's counters: " + e);
    }
  }
}
