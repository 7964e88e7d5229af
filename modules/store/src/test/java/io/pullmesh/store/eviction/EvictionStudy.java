package io.pullmesh.store.eviction;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The measurements behind the choice of policy (docs/eviction.md): every variant tried, on the committed traces, and
 * the pullmesh policy against LRU on eight more draws of each trace family. A report for a person to read, not a
 * test: it asserts nothing, so it is not named {@code *Test} and {@code mvn test} does not run it (the claims the
 * choice rests on are asserted by {@link EvictionTraceTest}). Slow (tens of seconds). From the repository's root:
 *
 * <pre>
 *   mvn -B -o -q -pl modules/store -am test-compile
 *   java -cp modules/store/target/test-classes:modules/store/target/classes:modules/core/target/classes \
 *       io.pullmesh.store.eviction.EvictionStudy [modules/store/target/eviction-study.md]
 * </pre>
 *
 * It prints the tables and writes them to the file given (by default the one above).
 */
final class EvictionStudy {
  private EvictionStudy() {}

  static final long DAY = Duration.ofDays(1).toMillis();
  static final long OVERHEAD = DecayedFrequencyPolicy.DEFAULT_FETCH_OVERHEAD_BYTES;
  static final int SEEDS = 8;

  /**
   * A policy to measure; whether the cache remembers the history of evicted blobs; whether hits count every
   * HTTP request of a pull (as Ollama makes them) instead of one per pull.
   */
  record Variant(Supplier<SimPolicy> policy, boolean rememberEvicted, boolean hitsPerRequest) {
    Variant(Supplier<SimPolicy> policy, boolean rememberEvicted) {
      this(policy, rememberEvicted, false);
    }
  }

  static Variant stateless(EvictionPolicy p) {
    return new Variant(() -> SimPolicy.of(p.toString(), p), false);
  }

  static Map<String, Variant> variants() {
    Map<String, Variant> v = new LinkedHashMap<>();
    v.put("LRU", stateless(new LruPolicy()));
    v.put("**pullmesh** (half-life 3 d)", stateless(DecayedFrequencyPolicy.withDefaults()));
    v.put("pullmesh, half-life 1 d", stateless(new DecayedFrequencyPolicy(Duration.ofDays(1), OVERHEAD)));
    v.put("pullmesh, half-life 7 d", stateless(new DecayedFrequencyPolicy(Duration.ofDays(7), OVERHEAD)));
    v.put("pullmesh without the silence rule", stateless(ReferencePolicies.evenlySpaced("even", 3 * DAY, OVERHEAD, 0)));
    v.put("pullmesh without the fetch overhead", stateless(new DecayedFrequencyPolicy(Duration.ofDays(3), 0)));
    v.put("pullmesh + history of evicted blobs",
        new Variant(() -> SimPolicy.of("hist", DecayedFrequencyPolicy.withDefaults()), true));
    v.put("pullmesh, hits counted per HTTP request", new Variant(
        () -> SimPolicy.of("per-request", DecayedFrequencyPolicy.withDefaults()), false, true));
    v.put("exact decayed count, 3 d (per-blob state)", new Variant(() -> new ReferencePolicies.Lrfu(3 * DAY, OVERHEAD), false));
    v.put("GDSF / LFU-DA (per-blob state)", new Variant(() -> new ReferencePolicies.Gdsf(OVERHEAD), false));
    v.put("LFU, no ageing", stateless(ReferencePolicies.lfu(OVERHEAD)));
    v.put("largest first", stateless(ReferencePolicies.largestFirst()));
    v.put("Belady (clairvoyant)", new Variant(ReferencePolicies.Belady::new, false));
    return v;
  }

  static double byteHitRatio(Trace t, double share, Variant v) {
    return CacheSimulator.run(t, (long) (t.distinctBytes(2) * share), v.policy().get(), v.rememberEvicted(),
        v.hitsPerRequest() ? CacheSimulator::ollamaRequestsPerPull : size -> 1).byteHitRatio();
  }

  public static void main(String[] args) throws IOException {
    String out = report();
    Path file = Path.of(args.length > 0 ? args[0] : "modules/store/target/eviction-study.md");
    if (file.getParent() != null) {
      Files.createDirectories(file.getParent());
    }
    Files.writeString(file, out);
    System.out.print(out);
    System.out.println("wrote " + file);
  }

  /** The two tables, in Markdown. */
  static String report() {
    StringBuilder out = new StringBuilder();
    out.append("### Byte hit ratio of every variant on the committed traces\n\n");
    out.append("| policy |");
    for (String name : TraceGenerator.NAMES) {
      for (String c : EvictionTraceTest.CAPACITY_NAMES) {
        out.append(' ').append(name).append(' ').append(c).append(" |");
      }
    }
    out.append('\n').append("|---|").append("---|".repeat(TraceGenerator.NAMES.size() * 3)).append('\n');
    List<Trace> committed = TraceGenerator.NAMES.stream().map(Trace::resource).toList();
    for (Map.Entry<String, Variant> v : variants().entrySet()) {
      out.append("| ").append(v.getKey()).append(" |");
      for (Trace t : committed) {
        for (double share : EvictionTraceTest.CAPACITIES) {
          out.append(String.format(Locale.ROOT, " %.3f |", byteHitRatio(t, share, v.getValue())));
        }
      }
      out.append('\n');
    }

    out.append("\n### Against LRU on ").append(SEEDS).append(" other draws of each trace (seeds 1-").append(SEEDS)
        .append(")\n\nmean byte hit ratio (worst difference to LRU on the same draw, draws out of ").append(SEEDS)
        .append(" where it is below LRU)\n\n");
    Map<String, Variant> robust = new LinkedHashMap<>();
    robust.put("LRU", stateless(new LruPolicy()));
    robust.put("**pullmesh** (3 d)", stateless(DecayedFrequencyPolicy.withDefaults()));
    for (int days : new int[] {1, 2, 4, 7, 14}) {
      robust.put("half-life " + days + " d",
          stateless(new DecayedFrequencyPolicy(Duration.ofDays(days), OVERHEAD)));
    }
    robust.put("without the silence rule", stateless(ReferencePolicies.evenlySpaced("even", 3 * DAY, OVERHEAD, 0)));
    robust.put("exact decayed count, 3 d", new Variant(() -> new ReferencePolicies.Lrfu(3 * DAY, OVERHEAD), false));
    robust.put("GDSF", new Variant(() -> new ReferencePolicies.Gdsf(OVERHEAD), false));
    robust.put("LFU", stateless(ReferencePolicies.lfu(OVERHEAD)));
    List<Variant> compared = List.copyOf(robust.values());
    int caps = EvictionTraceTest.CAPACITIES.length;
    // cells[variant][trace * caps + capacity]
    String[][] cells = new String[compared.size()][TraceGenerator.NAMES.size() * caps];
    out.append("| policy |");
    for (int n = 0; n < TraceGenerator.NAMES.size(); n++) {
      String name = TraceGenerator.NAMES.get(n);
      for (String c : EvictionTraceTest.CAPACITY_NAMES) {
        out.append(' ').append(name).append(' ').append(c).append(" |");
      }
      // [seed][capacity][variant]
      List<double[][]> runs = IntStream.rangeClosed(1, SEEDS).parallel().mapToObj(seed -> {
        Trace t = Trace.parse(name, TraceGenerator.generate(name, seed));
        double[][] r = new double[caps][compared.size()];
        for (int c = 0; c < caps; c++) {
          for (int v = 0; v < compared.size(); v++) {
            r[c][v] = byteHitRatio(t, EvictionTraceTest.CAPACITIES[c], compared.get(v));
          }
        }
        return r;
      }).collect(Collectors.toList());
      for (int c = 0; c < caps; c++) {
        for (int v = 0; v < compared.size(); v++) {
          double mean = 0;
          double worst = Double.MAX_VALUE;
          int below = 0;
          for (double[][] r : runs) {
            mean += r[c][v] / SEEDS;
            worst = Math.min(worst, r[c][v] - r[c][0]);
            below += r[c][v] < r[c][0] ? 1 : 0;
          }
          cells[v][n * caps + c] = v == 0 ? String.format(Locale.ROOT, "%.3f", mean)
              : String.format(Locale.ROOT, "%.3f (%+.3f, %d)", mean, worst, below);
        }
      }
    }
    out.append("\n|---|").append("---|".repeat(TraceGenerator.NAMES.size() * caps)).append('\n');
    int v = 0;
    for (String policy : robust.keySet()) {
      out.append("| ").append(policy).append(" | ").append(String.join(" | ", cells[v++])).append(" |\n");
    }
    return out.toString();
  }
}
