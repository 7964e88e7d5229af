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
   */
  record Usage(double wallSeconds, double proxySeconds, double upstreamSeconds, double clientSeconds,
      double machineBusy) {}

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private static final com.sun.management.OperatingSystemMXBean OS =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  private final ProxyProcess proxy;
  private final long startNanos;
  private final double proxyStart;
  private final long processStart;
  private final Map<Long, Long> vertxStart;
  private final long[] machineStart;

  private CpuMeter(ProxyProcess proxy) {
    this.proxy = proxy;
    this.machineStart = Proc.machineJiffies();
    this.proxyStart = proxy == null ? Double.NaN : proxy.cpuSeconds();
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
    long[] machineEnd = Proc.machineJiffies();
    long vertx = 0;
    for (Map.Entry<Long, Long> e : vertxEnd.entrySet()) {
      vertx += e.getValue() - vertxStart.getOrDefault(e.getKey(), 0L);
    }
    long busy = machineEnd[0] - machineStart[0];
    long total = machineEnd[1] - machineStart[1];
    return new Usage(wall / 1e9, proxyCpu, vertx / 1e9, Math.max(0, process - vertx) / 1e9,
        total > 0 ? (double) busy / total : Double.NaN);
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
