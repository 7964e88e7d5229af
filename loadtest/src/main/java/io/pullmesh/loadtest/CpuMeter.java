package io.pullmesh.loadtest;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.HashMap;
import java.util.Map;

/**
 * CPU used during one phase, split by who used it: the proxy process, the fake upstream (the Vert.x threads of
 * this JVM, which run only the fake registry and CDN), the rest of this JVM (the Ollama-like clients, their
 * SHA-256 checks, GC and JIT), external tools, and the whole machine.
 */
final class CpuMeter {
  /**
   * @param wallSeconds the phase's wall time
   * @param proxySeconds CPU of the proxy process (NaN when none ran)
   * @param upstreamSeconds CPU of the fake registry/CDN threads
   * @param clientSeconds CPU of the rest of the benchmark JVM (the clients)
   * @param machineBusy fraction of all CPUs busy (0..1)
   * @param machineBusySeconds CPU seconds used machine-wide (all processes, kernel threads, interrupts)
   */
  record Usage(double wallSeconds, double proxySeconds, double upstreamSeconds, double clientSeconds,
      double machineBusy, double machineBusySeconds, Map<String, Double> proxyThreads) {

    /**
     * CPU seconds used by neither the proxy nor the benchmark JVM nor {@code toolSeconds}: other processes
     * (e.g. a build running at the same time), kernel threads (page-cache writeback) and softirq time of the
     * loopback traffic that Linux charges to no process.
     */
    double restSeconds(double toolSeconds) {
      return machineBusySeconds - (Double.isNaN(proxySeconds) ? 0 : proxySeconds) - upstreamSeconds - clientSeconds
          - (Double.isNaN(toolSeconds) ? 0 : toolSeconds);
    }
  }

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private static final com.sun.management.OperatingSystemMXBean OS =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  private final ProxyProcess proxy;
  private final long startNanos;
  private final double proxyStart;
  private final long processStart;
  private final Map<Long, Long> vertxStart;
  private final long[] machineStart;
  private final Map<Long, Proc.ThreadCpu> proxyThreadsStart;

  private CpuMeter(ProxyProcess proxy) {
    this.proxy = proxy;
    this.machineStart = Proc.machineJiffies();
    this.proxyStart = proxy == null ? Double.NaN : proxy.cpuSeconds();
    this.proxyThreadsStart = proxy == null ? Map.of() : Proc.threads(proxy.pid());
    this.processStart = OS.getProcessCpuTime();
    this.vertxStart = vertxThreadCpu();
    this.startNanos = System.nanoTime();
  }

  /** Starts measuring; {@code proxy} may be null. */
  static CpuMeter start(ProxyProcess proxy) {
    return new CpuMeter(proxy);
  }

  Usage stop() {
    long wall = System.nanoTime() - startNanos;
    Map<Long, Long> vertxEnd = vertxThreadCpu();
    long process = OS.getProcessCpuTime() - processStart;
    double proxyCpu = proxy == null ? Double.NaN : proxy.cpuSeconds() - proxyStart;
    Map<String, Double> groups = new java.util.TreeMap<>();
    if (proxy != null) {
      for (Map.Entry<Long, Proc.ThreadCpu> e : Proc.threads(proxy.pid()).entrySet()) {
        Proc.ThreadCpu before = proxyThreadsStart.get(e.getKey());
        double d = e.getValue().seconds() - (before == null ? 0 : before.seconds());
        groups.merge(Proc.threadGroup(e.getValue().name()), d, Double::sum);
      }
    }
    long[] machineEnd = Proc.machineJiffies();
    long vertx = 0;
    for (Map.Entry<Long, Long> e : vertxEnd.entrySet()) {
      vertx += e.getValue() - vertxStart.getOrDefault(e.getKey(), 0L);
    }
    long busy = machineEnd[0] - machineStart[0];
    long total = machineEnd[1] - machineStart[1];
    return new Usage(wall / 1e9, proxyCpu, vertx / 1e9, Math.max(0, process - vertx) / 1e9,
        total > 0 ? (double) busy / total : Double.NaN, busy / Proc.CLK_TCK, Map.copyOf(groups));
  }

  /** The fraction of all CPUs busy over the next {@code millis}, machine-wide. */
  static double machineBusy(long millis) {
    long[] a = Proc.machineJiffies();
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    long[] b = Proc.machineJiffies();
    return b[1] > a[1] ? (double) (b[0] - a[0]) / (b[1] - a[1]) : 0;
  }

  private static Map<Long, Long> vertxThreadCpu() {
    Map<Long, Long> cpu = new HashMap<>();
    long[] ids = THREADS.getAllThreadIds();
    ThreadInfo[] infos = THREADS.getThreadInfo(ids);
    for (int i = 0; i < ids.length; i++) {
      ThreadInfo info = infos[i];
      if (info != null && info.getThreadName().startsWith("vert.x-")) {
        long t = THREADS.getThreadCpuTime(ids[i]);
        if (t >= 0) {
          cpu.put(ids[i], t);
        }
      }
    }
    return cpu;
  }
}
