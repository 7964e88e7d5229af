package io.pullmesh.loadtest;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A pullmesh proxy run as its own process from the shaded jar, as in production:
 * {@code java -Xmx256m -Xlog:gc:file=... -jar pullmesh-proxy.jar --listen 127.0.0.1:0 ...}. Its stdout, stderr and
 * GC log go to files under the log directory; the port is read from the "listening on" line it prints.
 */
final class ProxyProcess implements AutoCloseable {
  private static final Pattern LISTENING = Pattern.compile("listening on (http://[^\\s]+)");
  private static final Pattern GC_PAUSE = Pattern.compile("(\\d+)([KMG])->(\\d+)([KMG])\\((\\d+)([KMG])\\)");

  private final Process process;
  private final String baseUrl;
  private final Path stdout;
  private final Path stderr;
  private final Path gcLog;
  private final List<String> command;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  private ProxyProcess(Process process, String baseUrl, Path stdout, Path stderr, Path gcLog, List<String> command) {
    this.process = process;
    this.baseUrl = baseUrl;
    this.stdout = stdout;
    this.stderr = stderr;
    this.gcLog = gcLog;
    this.command = command;
  }

  /**
   * Starts the proxy and waits (up to 60 s) until it listens.
   *
   * @param label names its log files: {@code <label>.out}, {@code <label>.err}, {@code <label>-gc.log}
   */
  static ProxyProcess start(Path java, Path jar, String xmx, List<String> extraJvmArgs, String upstream, Path cacheDir,
      int connections, Path logDir, String label) throws IOException {
    return start(java, jar, xmx, extraJvmArgs, upstream, cacheDir, connections, logDir, label, List.of());
  }

  /** As above, with more proxy options (e.g. {@code --manifest-ttl 1s}). */
  static ProxyProcess start(Path java, Path jar, String xmx, List<String> extraJvmArgs, String upstream, Path cacheDir,
      int connections, Path logDir, String label, List<String> proxyArgs) throws IOException {
    Files.createDirectories(logDir);
    Path out = logDir.resolve(label + ".out");
    Path err = logDir.resolve(label + ".err");
    Path gc = logDir.resolve(label + "-gc.log");
    Files.deleteIfExists(out);
    Files.deleteIfExists(err);
    Files.deleteIfExists(gc);
    List<String> cmd = new ArrayList<>();
    cmd.add(java.toString());
    cmd.add("-Xmx" + xmx);
    cmd.add("-Xlog:gc:file=" + gc + ":uptime");
    for (String a : extraJvmArgs) {
      cmd.add(a.replace("{label}", label)); // e.g. a JFR file name per proxy
    }
    cmd.addAll(List.of("-jar", jar.toString(),
        "--listen", "127.0.0.1:0",
        "--upstream", upstream,
        "--cache-dir", cacheDir.toString(),
        "--upstream-connections", Integer.toString(connections)));
    cmd.addAll(proxyArgs);
    Process p = Subprocesses.start(cmd, out, err);
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < deadline) {
      String text = Proc.read(out);
      Matcher m = LISTENING.matcher(text == null ? "" : text);
      if (m.find()) {
        return new ProxyProcess(p, m.group(1), out, err, gc, List.copyOf(cmd));
      }
      if (!p.isAlive()) {
        throw new IOException("the proxy exited with " + p.exitValue() + " before listening: " + Proc.read(err));
      }
      Subprocesses.sleep(50);
    }
    Subprocesses.stop(p, 5);
    throw new IOException("the proxy did not print 'listening on' within 60 s; stderr: " + Proc.read(err));
  }

  String baseUrl() {
    return baseUrl;
  }

  long pid() {
    return process.pid();
  }

  List<String> command() {
    return command;
  }

  /** VmHWM: the most resident memory the process has had since it started. */
  long peakRssBytes() {
    return Proc.statusBytes(process.pid(), "VmHWM");
  }

  double cpuSeconds() {
    return Proc.cpuSeconds(process.pid());
  }

  /** The Prometheus text of {@code /metrics}. */
  String metrics() throws IOException {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(baseUrl + "/metrics"))
          .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IOException("/metrics answered " + r.statusCode());
      }
      return r.body();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  /** The sum of a metric's samples whose labels contain every one of {@code labels} (e.g. {@code kind="blob"}). */
  static double metric(String text, String name, String... labels) {
    double sum = 0;
    boolean found = false;
    for (String line : text.split("\n")) {
      if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) {
        continue;
      }
      int close = line.lastIndexOf('}');
      String labelPart = close > 0 ? line.substring(0, close + 1) : "";
      boolean all = true;
      for (String l : labels) {
        all &= labelPart.contains(l);
      }
      if (!all) {
        continue;
      }
      String[] f = line.substring(Math.max(close + 1, name.length())).trim().split("\\s+");
      sum += Double.parseDouble(f[0]);
      found = true;
    }
    return found ? sum : Double.NaN;
  }

  /** Heap use read from the GC log: the largest heap before a collection, and the largest committed heap. */
  record HeapPeak(long usedBeforeGcBytes, long liveAfterGcBytes, long committedBytes, int collections,
      int fullCollections) {}

  HeapPeak heapPeak() {
    long used = 0;
    long live = 0;
    long committed = 0;
    int n = 0;
    int full = 0;
    for (String line : Proc.lines(gcLog)) {
      if (!line.contains("Pause")) {
        continue;
      }
      Matcher m = GC_PAUSE.matcher(line);
      if (m.find()) {
        n++;
        if (line.contains("Pause Full")) {
          full++;
        }
        used = Math.max(used, bytes(m.group(1), m.group(2)));
        live = Math.max(live, bytes(m.group(3), m.group(4)));
        committed = Math.max(committed, bytes(m.group(5), m.group(6)));
      }
    }
    return new HeapPeak(used, live, committed, n, full);
  }

  /**
   * When the proxy logged that it committed (verified and stored) a blob, in epoch milliseconds, from its log
   * line {@code <ISO time> INFO  BlobDownload: committed sha256:<hex> ...}; -1 when it has not.
   */
  long committedAtMillis(String digest) {
    for (String line : Proc.lines(stderr)) {
      if (line.contains("committed " + digest + " ")) {
        try {
          return java.time.Instant.parse(line.substring(0, line.indexOf(' '))).toEpochMilli();
        } catch (RuntimeException e) {
          return -1;
        }
      }
    }
    return -1;
  }

  /**
   * The distinct problems the proxy logged: the message part of each ERROR line (without its time), with how
   * often each occurred, most frequent first.
   */
  java.util.Map<String, Integer> loggedErrors() {
    java.util.Map<String, Integer> counts = new java.util.LinkedHashMap<>();
    List<String> lines = Proc.lines(stderr);
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      int at = line.indexOf(" ERROR ");
      if (at < 0) {
        continue;
      }
      String what = line.substring(at + 7).trim();
      // the exception on the next line says more than Vert.x's generic "Unhandled exception"
      if (i + 1 < lines.size() && !lines.get(i + 1).isEmpty() && !lines.get(i + 1).startsWith("20")
          && !lines.get(i + 1).startsWith("\t")) {
        what += ": " + lines.get(i + 1).trim();
      }
      counts.merge(what, 1, Integer::sum);
    }
    return counts;
  }

  /** Whether the proxy reported running out of memory. */
  boolean sawOutOfMemory() {
    String err = Proc.read(stderr);
    String out = Proc.read(stdout);
    return (err != null && err.contains("OutOfMemoryError")) || (out != null && out.contains("OutOfMemoryError"));
  }

  Path stderrFile() {
    return stderr;
  }

  private static long bytes(String n, String unit) {
    long v = Long.parseLong(n);
    return switch (unit) {
      case "K" -> v << 10;
      case "M" -> v << 20;
      case "G" -> v << 30;
      default -> v;
    };
  }

  /** SIGTERM (the proxy closes its cache cleanly), SIGKILL after 15 s. */
  @Override
  public void close() {
    Subprocesses.stop(process, 15);
  }
}
