package io.pullmesh.loadtest;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Starts the benchmark's child processes and makes sure none outlives it: every process started here is
 * tracked and, if still alive when the JVM exits (normally, by an exception or by Ctrl-C), destroyed together
 * with its descendants. Only processes this class started are ever touched.
 */
final class Subprocesses {
  private static final Set<Process> LIVE = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(Subprocesses::destroyAll, "bench-subprocess-reaper"));
  }

  private Subprocesses() {}

  /** Starts a command with stdout and stderr appended to files and stdin from /dev/null. */
  static Process start(List<String> command, Path stdout, Path stderr) throws IOException {
    Process p = new ProcessBuilder(command)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(stdout.toFile()))
        .redirectError(ProcessBuilder.Redirect.appendTo(stderr.toFile()))
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .start();
    LIVE.add(p);
    p.onExit().thenRun(() -> LIVE.remove(p));
    return p;
  }

  /** SIGTERM, then SIGKILL after {@code graceSeconds}; the same for the process's descendants. */
  static void stop(Process p, long graceSeconds) {
    if (p == null) {
      return;
    }
    List<ProcessHandle> children = new ArrayList<>(p.descendants().toList());
    p.destroy();
    try {
      if (!p.waitFor(graceSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
    }
    for (ProcessHandle c : children) {
      if (c.isAlive()) {
        c.destroyForcibly();
      }
    }
    LIVE.remove(p);
  }

  private static void destroyAll() {
    for (Process p : LIVE) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
    }
  }

  /**
   * How a command run to completion went.
   *
   * @param exitCode its exit code, or -1 when it was killed at the timeout
   * @param wallSeconds from just before the fork to the exit
   * @param cpuSeconds user + system CPU of the command (and its children), from the shell's {@code times}
   * @param stdout what it printed
   * @param stderr what it printed on stderr (without the {@code times} lines)
   */
  record Run(int exitCode, double wallSeconds, double cpuSeconds, String stdout, String stderr) {
    boolean ok() {
      return exitCode == 0;
    }
  }

  private static final String TIMES_MARK = "@@pullmesh-bench-times@@";
  private static final Pattern TIMES = Pattern.compile("(\\d+)m([0-9.]+)s\\s+(\\d+)m([0-9.]+)s");

  /**
   * Runs a command to completion under {@code /bin/sh}, which afterwards prints its children's CPU times
   * ({@code times}) so that the command's CPU use is known even though it has exited.
   */
  static Run runMeasured(List<String> command, Path scratch, long timeoutSeconds) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add("/bin/sh");
    cmd.add("-c");
    cmd.add("\"$@\"; rc=$?; echo " + TIMES_MARK + " >&2; times >&2; exit $rc");
    cmd.add("sh");
    cmd.addAll(command);
    Path out = scratch.resolve("cmd.out");
    Path err = scratch.resolve("cmd.err");
    java.nio.file.Files.deleteIfExists(out);
    java.nio.file.Files.deleteIfExists(err);
    long t0 = System.nanoTime();
    Process p = start(cmd, out, err);
    boolean done;
    try {
      done = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      stop(p, 1);
      throw new IOException("interrupted", e);
    }
    long t1 = System.nanoTime();
    if (!done) {
      stop(p, 1);
    }
    String stdout = java.nio.file.Files.readString(out);
    String stderrAll = java.nio.file.Files.readString(err);
    int mark = stderrAll.lastIndexOf(TIMES_MARK);
    String stderr = mark >= 0 ? stderrAll.substring(0, mark) : stderrAll;
    double cpu = -1;
    if (mark >= 0) {
      // two lines: the shell's own times, then its children's; the last match is the children's
      Matcher m = TIMES.matcher(stderrAll.substring(mark));
      while (m.find()) {
        cpu = Integer.parseInt(m.group(1)) * 60 + Double.parseDouble(m.group(2))
            + Integer.parseInt(m.group(3)) * 60 + Double.parseDouble(m.group(4));
      }
    }
    return new Run(done ? p.exitValue() : -1, (t1 - t0) / 1e9, cpu, stdout, stderr.strip());
  }

  /** Sleeps while polling a subprocess; keeps the interrupt flag. */
  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
