package io.pullmesh.loadtest;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Reads what Linux's {@code /proc} says about processes and the machine. Linux only, as the benchmark. */
final class Proc {
  /** Clock ticks per second of {@code /proc/<pid>/stat} CPU times ({@code getconf CLK_TCK}; 100 on Linux). */
  static final double CLK_TCK = 100.0;

  private Proc() {}

  /** User + system CPU seconds a live process has used so far, or -1 when it is gone. */
  static double cpuSeconds(long pid) {
    String stat = read(Path.of("/proc", Long.toString(pid), "stat"));
    if (stat == null) {
      return -1;
    }
    // fields after "(comm)": state is field 3, utime field 14, stime field 15
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / CLK_TCK;
  }

  /** One thread of a process: its name as the kernel knows it (15 characters at most) and its CPU seconds. */
  record ThreadCpu(String name, double seconds) {}

  /** CPU seconds of each live thread of a process, by thread id; empty when the process is gone. */
  static java.util.Map<Long, ThreadCpu> threads(long pid) {
    java.util.Map<Long, ThreadCpu> out = new java.util.HashMap<>();
    Path tasks = Path.of("/proc", Long.toString(pid), "task");
    try (java.util.stream.Stream<Path> s = Files.list(tasks)) {
      for (Path t : s.toList()) {
        String stat = read(t.resolve("stat"));
        if (stat == null) {
          continue;
        }
        String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
        out.put(Long.parseLong(t.getFileName().toString()),
            new ThreadCpu(name, (Long.parseLong(f[11]) + Long.parseLong(f[12])) / CLK_TCK));
      }
    } catch (IOException | RuntimeException e) {
      // the process or a thread went away while reading: what was read is still right
    }
    return out;
  }

  /**
   * A thread's group for reports: the kernel's (truncated) thread name without its number, e.g.
   * "vert.x-eventloo" for the event loops, "pullmesh-io-" for the io pool, "GC Thread#" for G1's workers.
   */
  static String threadGroup(String name) {
    String g = name.replaceAll("[0-9]+$", "");
    if (g.startsWith("vert.x-eventloo")) {
      return "Vert.x event loops (network)";
    }
    if (g.startsWith("pullmesh-io")) {
      return "pullmesh io pool (file writes/reads, SHA-256)";
    }
    if (g.startsWith("GC Thread") || g.startsWith("G1 ") || g.startsWith("VM Thread")) {
      return "GC and VM (G1 workers, VM thread)";
    }
    if (g.startsWith("C1 Compiler") || g.startsWith("C2 Compiler")) {
      return "JIT compilers";
    }
    if (g.startsWith("vert.x-")) {
      return "other Vert.x threads (workers, blocking)";
    }
    return "other threads";
  }

  /** A {@code kB} line of {@code /proc/<pid>/status} (e.g. {@code VmHWM}, {@code VmRSS}) in bytes, or -1. */
  static long statusBytes(long pid, String key) {
    String status = read(Path.of("/proc", Long.toString(pid), "status"));
    if (status == null) {
      return -1;
    }
    for (String line : status.split("\n")) {
      if (line.startsWith(key + ":")) {
        String v = line.substring(key.length() + 1).trim();
        return Long.parseLong(v.split("\\s+")[0]) * 1024;
      }
    }
    return -1;
  }

  /** {@code {busy, total}} jiffies of all CPUs since boot, from the first line of {@code /proc/stat}. */
  static long[] machineJiffies() {
    String stat = read(Path.of("/proc/stat"));
    if (stat == null) {
      return new long[] {0, 0};
    }
    String[] f = stat.substring(0, stat.indexOf('\n')).trim().split("\\s+");
    long total = 0;
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    for (int i = 1; i <= 8 && i < f.length; i++) {
      total += Long.parseLong(f[i]);
    }
    long idle = Long.parseLong(f[4]) + (f.length > 5 ? Long.parseLong(f[5]) : 0);
    return new long[] {total - idle, total};
  }

  static long memTotalBytes() {
    String info = read(Path.of("/proc/meminfo"));
    if (info != null) {
      for (String line : info.split("\n")) {
        if (line.startsWith("MemTotal:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    }
    return -1;
  }

  static String cpuModel() {
    String info = read(Path.of("/proc/cpuinfo"));
    if (info != null) {
      for (String line : info.split("\n")) {
        if (line.startsWith("model name")) {
          return line.substring(line.indexOf(':') + 1).trim();
        }
      }
    }
    return "unknown CPU";
  }

  static String kernel() {
    String v = read(Path.of("/proc/sys/kernel/osrelease"));
    return v == null ? System.getProperty("os.version") : v.trim();
  }

  static String read(Path p) {
    try {
      return Files.readString(p, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return null;
    }
  }

  static List<String> lines(Path p) {
    try {
      return Files.readAllLines(p, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return List.of();
    }
  }
}
