package io.pullmesh.store.eviction;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The pullmesh policy against plain LRU on the committed traces: its byte hit ratio must be at least LRU's on
 * every trace at every capacity measured. Writes the table of docs/eviction.md to
 * {@code target/eviction-report.md} (and to the test output).
 */
class EvictionTraceTest {
  /** Cache sizes, as shares of the trace's working set (bytes of the blobs requested at least twice). */
  static final double[] CAPACITIES = {1 / 6.0, 1 / 3.0, 1 / 2.0};
  static final String[] CAPACITY_NAMES = {"1/6", "1/3", "1/2"};

  @Test
  void pullmeshPolicyKeepsAtLeastTheBytesLruKeeps() throws IOException {
    StringBuilder table = new StringBuilder();
    table.append("| trace | cache | policy | byte hit ratio | object hit ratio | pulls all from cache | GB fetched |\n");
    table.append("|---|---|---|---|---|---|---|\n");
    List<Executable> checks = new ArrayList<>();
    for (String name : TraceGenerator.NAMES) {
      Trace trace = Trace.resource(name);
      long workingSet = trace.distinctBytes(2);
      for (int i = 0; i < CAPACITIES.length; i++) {
        long capacity = (long) (workingSet * CAPACITIES[i]);
        String cache = String.format(Locale.ROOT, "%s (%.0f GB)", CAPACITY_NAMES[i], capacity / 1e9);
        CacheSimulator.Result lru = CacheSimulator.run(trace, capacity, SimPolicy.of("LRU", new LruPolicy()));
        CacheSimulator.Result pullmesh = CacheSimulator.run(trace, capacity,
            SimPolicy.of("pullmesh", DecayedFrequencyPolicy.withDefaults()));
        row(table, name, cache, lru);
        row(table, name, cache, pullmesh);
        checks.add(() -> assertTrue(pullmesh.byteHitRatio() >= lru.byteHitRatio(), String.format(Locale.ROOT,
            "%s at %s: pullmesh byte hit ratio %.4f < LRU %.4f", name, cache, pullmesh.byteHitRatio(),
            lru.byteHitRatio())));
      }
    }
    Path report = Path.of("target", "eviction-report.md");
    Files.createDirectories(report.getParent());
    Files.writeString(report, table);
    System.out.print(table);
    assertAll(checks);
  }

  static void row(StringBuilder table, String trace, String cache, CacheSimulator.Result r) {
    table.append(String.format(Locale.ROOT, "| %s | %s | %s | %.3f | %.3f | %.3f | %.0f |%n", trace, cache,
        r.policy(), r.byteHitRatio(), r.objectHitRatio(), r.pullHitRatio(), r.fetchedBytes() / 1e9));
  }
}
