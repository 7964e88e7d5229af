package io.pullmesh.loadtest;

import io.pullmesh.core.Bytes;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.List;

/** Where and when the benchmark ran, for the report. */
record Machine(String date, int cpus, String cpuModel, long memory, String kernel, String jdk, String aria2c,
    String nginx, String curl, String commit) {

  static Machine describe(BenchOptions o, Path java) {
    return new Machine(
        ZonedDateTime.now().truncatedTo(ChronoUnit.SECONDS).format(DateTimeFormatter.ISO_OFFSET_DATE_TIME),
        Runtime.getRuntime().availableProcessors(),
        Proc.cpuModel(),
        Proc.memTotalBytes(),
        Proc.kernel(),
        System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version") + " ("
            + System.getProperty("java.vendor") + ")",
        firstLine(List.of("aria2c", "--version"), false),
        firstLine(List.of(ExternalPaths.nginx(), "-v"), true).replace("nginx version: ", ""),
        firstLine(List.of("curl", "--version"), false),
        commit(o.repoRoot(), o.docFile()));
  }

  String summary() {
    return cpus + " CPUs (" + cpuModel + "), " + Bytes.human(memory) + ", Linux " + kernel + ", " + jdk;
  }

  private static String firstLine(List<String> cmd, boolean stderr) {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(stderr).start();
      String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      p.waitFor();
      String line = out.strip();
      int nl = line.indexOf('\n');
      return nl < 0 ? line : line.substring(0, nl).strip();
    } catch (Exception e) {
      return "unknown";
    }
  }

  /** The short commit, with "+local changes" when tracked files other than the report differ from it. */
  private static String commit(Path root, Path doc) {
    String head = firstLine(List.of("git", "-C", root.toString(), "rev-parse", "--short", "HEAD"), false);
    if (head.isEmpty() || head.startsWith("fatal")) {
      return "unknown (not a git checkout)";
    }
    try {
      Process p = new ProcessBuilder("git", "-C", root.toString(), "status", "--porcelain", "--untracked-files=no")
          .start();
      String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      p.waitFor();
      String docRel = root.relativize(doc).toString();
      boolean dirty = out.lines().anyMatch(l -> l.length() > 3 && !l.substring(3).equals(docRel));
      return dirty ? head + " + local changes" : head;
    } catch (Exception e) {
      return head;
    }
  }
}
