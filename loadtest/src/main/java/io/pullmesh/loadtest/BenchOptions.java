package io.pullmesh.loadtest;

import io.pullmesh.core.Bytes;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The benchmark's parameters: {@code --name value} or {@code --name=value} arguments, else the system property
 * {@code bench.name}, else the default.
 */
record BenchOptions(
    long modelSize,
    long cdnRate,
    int proxyConnections,
    int repetitions,
    int concurrentClients,
    int serveRuns,
    int slowEvery,
    int slowFactor,
    long proxyWarmupSize,
    int proxyWarmupModels,
    String proxyXmx,
    double quietWaitSeconds,
    double quietThreshold,
    List<String> proxyJvmArgs,
    Path repoRoot,
    Path workDir,
    Path proxyJar,
    Path docFile,
    boolean writeDoc,
    boolean keepFiles,
    List<String> givenArgs) {

  /** name, default, help. */
  private static final String[][] OPTIONS = {
      {"size", "256MiB", "size of the model layer (binary units)"},
      {"rate", "4MiB", "fake CDN bandwidth per TCP connection, bytes per second"},
      {"connections", "16", "the proxy's --upstream-connections"},
      {"reps", "1", "repetitions of the whole sequence; tables show medians"},
      {"clients", "16", "concurrent Ollama-like clients in the concurrent cold run"},
      {"serve-runs", "5", "curl fetches from each server in the warm-serving comparison"},
      {"slow-edges", "10:16", "every:factor: in the slow-edge runs, every n-th CDN connection is factor times slower (0 = no slow-edge runs)"},
      {"proxy-warmup", "64MiB", "size of each JIT warm-up model pulled through each fresh proxy, unthrottled, before measuring (0 = no warm-up)"},
      {"proxy-warmup-models", "8", "how many warm-up models"},
      {"proxy-xmx", "256m", "the proxy's -Xmx"},
      {"quiet-wait", "300", "seconds to wait, before each phase, for the machine to be quiet (other processes' CPU)"},
      {"quiet-threshold", "0.15", "the machine counts as quiet below this fraction of all CPUs busy"},
      {"proxy-jvm-opts", "", "extra JVM options for the proxy, space-separated; {label} becomes the proxy's name (e.g. -XX:StartFlightRecording=filename=/tmp/{label}.jfr)"},
      {"work-dir", "loadtest/target/bench-work", "scratch directory (relative to the repository root), wiped first"},
      {"proxy-jar", "proxy/target/pullmesh-proxy.jar", "the proxy's shaded jar (relative to the repository root)"},
      {"doc", "docs/benchmarks.md", "the markdown file the results section is written into"},
      {"no-doc", "false", "only print the results, leave the doc alone"},
      {"keep", "false", "keep the scratch directory (models, caches, downloads) afterwards"},
  };

  static String help() {
    StringBuilder b = new StringBuilder("Usage: loadtest/bench.sh [--name value]...\n\n");
    for (String[] o : OPTIONS) {
      b.append(String.format(Locale.ROOT, "  --%-16s %s [default %s]%n", o[0], o[2], o[1].isEmpty() ? "none" : o[1]));
    }
    b.append("\nEach option may also be given as the system property bench.<name>.\n");
    return b.toString();
  }

  static BenchOptions parse(String[] args) {
    Map<String, String> given = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--")) {
        throw new IllegalArgumentException("unexpected argument '" + a + "'\n" + help());
      }
      String name = a.substring(2);
      String value;
      int eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.substring(eq + 1);
        name = name.substring(0, eq);
      } else if (name.equals("no-doc") || name.equals("keep") || name.equals("help")) {
        value = "true";
      } else if (i + 1 < args.length) {
        value = args[++i];
      } else {
        throw new IllegalArgumentException("--" + name + " needs a value\n" + help());
      }
      String key = name;
      if (!key.equals("help") && Arrays.stream(OPTIONS).noneMatch(o -> o[0].equals(key))) {
        throw new IllegalArgumentException("unknown option --" + name + "\n" + help());
      }
      given.put(name, value);
    }
    if (given.containsKey("help")) {
      return null;
    }
    Map<String, String> v = new LinkedHashMap<>();
    for (String[] o : OPTIONS) {
      String value = given.getOrDefault(o[0], System.getProperty("bench." + o[0], o[1]));
      v.put(o[0], value);
    }
    Path root = Path.of(System.getProperty("pullmesh.repo.root", ".")).toAbsolutePath().normalize();
    List<String> jvm = v.get("proxy-jvm-opts").isBlank() ? List.of() : List.of(v.get("proxy-jvm-opts").trim().split("\\s+"));
    List<String> echo = new ArrayList<>();
    for (Map.Entry<String, String> e : given.entrySet()) {
      echo.add("--" + e.getKey());
      if (!e.getValue().equals("true") || !(e.getKey().equals("no-doc") || e.getKey().equals("keep"))) {
        echo.add(e.getValue().contains(" ") ? "'" + e.getValue() + "'" : e.getValue());
      }
    }
    BenchOptions o = new BenchOptions(
        Bytes.parse(v.get("size")),
        Bytes.parse(v.get("rate")),
        positive("connections", v.get("connections")),
        positive("reps", v.get("reps")),
        positive("clients", v.get("clients")),
        positive("serve-runs", v.get("serve-runs")),
        slowEdges(v.get("slow-edges"))[0],
        slowEdges(v.get("slow-edges"))[1],
        Bytes.parse(v.get("proxy-warmup")),
        Bytes.parse(v.get("proxy-warmup")) == 0 ? 0 : positive("proxy-warmup-models", v.get("proxy-warmup-models")),
        v.get("proxy-xmx"),
        Double.parseDouble(v.get("quiet-wait")),
        Double.parseDouble(v.get("quiet-threshold")),
        jvm,
        root,
        root.resolve(v.get("work-dir")).normalize(),
        root.resolve(v.get("proxy-jar")).normalize(),
        root.resolve(v.get("doc")).normalize(),
        !Boolean.parseBoolean(v.get("no-doc")),
        Boolean.parseBoolean(v.get("keep")),
        List.copyOf(echo));
    if (o.modelSize < 1 << 20) {
      throw new IllegalArgumentException("--size must be at least 1 MiB");
    }
    if (o.cdnRate < 1) {
      throw new IllegalArgumentException("--rate must be > 0: the benchmark is about a throttled upstream");
    }
    return o;
  }

  /** {@code every:factor}, or {@code 0} for none. */
  private static int[] slowEdges(String value) {
    if (value.trim().equals("0")) {
      return new int[] {0, 1};
    }
    String[] p = value.trim().split(":");
    if (p.length != 2) {
      throw new IllegalArgumentException("--slow-edges: expected every:factor (e.g. 10:16) or 0, got '" + value + "'");
    }
    return new int[] {positive("slow-edges", p[0]), positive("slow-edges", p[1])};
  }

  private static int positive(String name, String value) {
    try {
      int n = Integer.parseInt(value.trim());
      if (n < 1) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--" + name + ": expected a whole number >= 1, got '" + value + "'");
    }
  }

  /** The command that reproduces a run with these options. */
  String command() {
    return givenArgs.isEmpty() ? "loadtest/bench.sh" : "loadtest/bench.sh " + String.join(" ", givenArgs);
  }
}
