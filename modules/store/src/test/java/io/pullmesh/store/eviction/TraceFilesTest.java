package io.pullmesh.store.eviction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The committed traces are exactly what {@link TraceGenerator} writes, and have the shape it promises. */
class TraceFilesTest {
  static String resource(String name) throws IOException {
    try (InputStream in = TraceFilesTest.class.getResourceAsStream("/traces/" + name + ".csv")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"office-zipf", "scan-pollution", "shifting-popularity"})
  void committedFileIsWhatTheGeneratorWrites(String name) throws IOException {
    String committed = resource(name);
    assertEquals(TraceGenerator.generate(name), committed,
        "regenerate with TraceGenerator (docs/eviction.md) and commit, or revert the generator");
    assertTrue(committed.startsWith("# pullmesh access trace '" + name + "': SYNTHETIC"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"office-zipf", "scan-pollution", "shifting-popularity"})
  void shape(String name) {
    Trace t = Trace.resource(name);
    assertTrue(t.pulls().size() > 1500 && t.pulls().size() < 2500, t.pulls().size() + " pulls");
    Set<String> clients = new HashSet<>();
    Set<String> models = new HashSet<>();
    long last = 0;
    for (Trace.Pull p : t.pulls()) {
      clients.add(p.client());
      models.add(p.model());
      assertTrue(p.timeMillis() >= last && p.timeMillis() < TraceGenerator.DAYS * TraceGenerator.DAY);
      last = p.timeMillis();
      assertTrue(p.blobs().get(0).name().endsWith("/weights") && p.blobs().get(0).size() >= 500_000_000L);
      assertTrue(p.blobs().get(0).size() <= 9_000_000_000L);
      for (Trace.Blob b : p.blobs().subList(1, p.blobs().size())) {
        assertTrue(b.size() <= 10_000, b.name());
      }
    }
    assertEquals(TraceGenerator.CLIENTS, clients.size());
    assertTrue(models.size() >= 30, models.size() + " models");
  }

  @Test
  void scanPollutionIsOfficeZipfPlusOneOffs() {
    Trace zipf = Trace.resource("office-zipf");
    Trace scan = Trace.resource("scan-pollution");
    Map<String, Integer> pullsPerModel = new HashMap<>();
    scan.pulls().forEach(p -> pullsPerModel.merge(p.model(), 1, Integer::sum));
    long oneOffs = scan.pulls().stream().filter(p -> p.model().startsWith("x")).count();
    assertEquals(zipf.pulls().size() + oneOffs, scan.pulls().size());
    assertTrue(oneOffs >= 20, oneOffs + " one-off pulls");
    scan.pulls().stream().filter(p -> p.model().startsWith("x")).forEach(p -> {
      assertEquals(1, pullsPerModel.get(p.model()), p.model() + " is pulled once");
      assertTrue(p.blobs().get(0).size() >= 4_000_000_000L);
    });
    assertEquals(zipf.pulls(), scan.pulls().stream().filter(p -> !p.model().startsWith("x")).toList());
  }
}
