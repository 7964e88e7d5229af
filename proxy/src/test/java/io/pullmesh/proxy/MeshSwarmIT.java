package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.proxy.NetnsOffice.ClientRun;
import io.pullmesh.proxy.NetnsOffice.Phase;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * How a pull scales with the number of nodes pulling at once: a swarm, not a star (docs/mesh.md). One office of
 * {@code max(N)} nodes in network namespaces ({@link NetnsOffice}); the WAN link and every node's uplink shaped to
 * {@code pullmesh.swarm.mbit} Mbit/s (100). One node alone pulls a cold model of {@code pullmesh.swarm.modelMiB} MiB
 * (64): T(1). Then, for each N in {@code pullmesh.swarm.nodes} (CI: 4; the sweep: 2,4,8), nodes 1..N pull another
 * cold model at the same moment: T(N), the last client's end. With every node's uplink as narrow as the WAN, a star
 * (every node streams from the node fetching from upstream) takes about (N-1) x T(1); a swarm about T(1).
 *
 * <p>Asserted for every N: WAN bytes at most 1.05x the model (by the registry's count and the veth's); the node that
 * fetched from upstream served peers at most {@link #MAX_FETCHER_SHARE} of what all nodes served them (a star: all of
 * it); T(N)/T(1) at most {@code pullmesh.swarm.maxRatio} when it is given ({@link #MAX_RATIO}). The numbers go to {@code proxy/target/mesh-swarm.txt},
 * and a plot to {@code proxy/target/mesh-swarm.svg} ({@link SwarmChart}); the nodes' logs to
 * {@code proxy/target/mesh-swarm-logs/}. Needs root, as {@link MeshNetnsIT}. The sweep:
 * {@code mvn -B -o -pl proxy -am verify -Dit.test=MeshSwarmIT -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false
 * -Dpullmesh.swarm.nodes=2,4,8 -Dpullmesh.swarm.maxRatio=1.5}.
 */
class MeshSwarmIT {
  static final int MBIT = Integer.getInteger("pullmesh.swarm.mbit", 100);
  static final long LAYER_BYTES = (long) Integer.getInteger("pullmesh.swarm.modelMiB", 64) << 20;
  static final List<Integer> COUNTS = Arrays.stream(System.getProperty("pullmesh.swarm.nodes", "4").split(","))
      .map(String::strip).map(Integer::parseInt).toList();
  /**
   * T(N)/T(1) at most this, when given ({@code -Dpullmesh.swarm.maxRatio=1.5}, the target, in the sweep). Not
   * asserted by default: in CI the nodes share 2 CPUs with the build, and T(N) then measures the CPU as much as the
   * swarm. What CI asserts, the fetcher's share of peer traffic and WAN bytes, does not depend on the CPU.
   */
  /**
   * Models every node pulls together before the measurements ({@code pullmesh.swarm.warmups}, 1), each
   * {@code pullmesh.swarm.warmupMiB} MiB (16): the nodes' and clients' JVMs compile their data paths during these, not
   * during T(N). 16 JVMs on 2 CPUs still compiled through the sweep after one 16 MiB round.
   */
  static final int WARMUPS = Integer.getInteger("pullmesh.swarm.warmups", 1);
  static final long WARMUP_BYTES = (long) Integer.getInteger("pullmesh.swarm.warmupMiB", 16) << 20;
  static final double MAX_RATIO = Double.parseDouble(System.getProperty("pullmesh.swarm.maxRatio", "0"));
  static final double MAX_WAN_RATIO = 1.05;
  /**
   * The fetcher's share of all bytes nodes served to peers, at most: a star serves everything from the fetcher (1.0);
   * in a swarm of N downloaders the fetcher serves each piece about once and the relays the other N-2 copies, a share
   * of about 1/(N-1) (0.33 at N = 4). N = 2 has no relay: the bound applies from N = 3.
   */
  static final double MAX_FETCHER_SHARE = 0.6;
  private static final String SECRET = "netns-swarm-secret-0123456789abcdef";

  /**
   * One N's measurement: one node alone just before (T(1), measured again for every N: on a shared machine the CPU
   * time the nodes get drifts over minutes), the N nodes' phase, and per node the bytes it served to peers.
   */
  record Row(int n, Phase alone, Phase phase, Map<Integer, Long> servedToPeers, int fetcher, double cpuAlone, double cpu) {
    double ratio() {
      return phase.seconds() / alone.seconds();
    }

    long servedInAll() {
      return servedToPeers.values().stream().mapToLong(v -> Math.max(0, v)).sum();
    }

    double fetcherShare() {
      return servedInAll() == 0 ? 0 : (double) Math.max(0, servedToPeers.getOrDefault(fetcher, 0L)) / servedInAll();
    }
  }

  @Test
  void nodesPullingTogetherTakePiecesFromEachOtherSoTimeStaysNearOneNodesAndTheWanCarriesTheModelOnce() throws Exception {
    String skip = Netns.skipReason();
    Assumptions.assumeTrue(skip == null, () -> "needs network namespaces: " + skip);
    List<String> stale = Netns.removeStale();
    if (!stale.isEmpty()) {
      System.out.println("MeshSwarmIT: removed what an earlier run left: " + stale);
    }
    int most = COUNTS.stream().mapToInt(Integer::intValue).max().orElse(1);
    Path work = Files.createTempDirectory("pullmesh-swarm-");
    NetnsOffice office = NetnsOffice.build(work, most, MBIT, MBIT, SECRET);
    List<Throwable> problems = new ArrayList<>();
    List<Row> rows = new ArrayList<>();
    try {
      office.startNodesAndClients();
      for (int w = 0; w < WARMUPS; w++) {
        FakeModel warmUp = model("warmup" + w, WARMUP_BYTES, 40 + w, work);
        office.registry.addModel(warmUp);
        NetnsOffice.assertPulledIntact(office.pull("warmup" + w, warmUp, office.allNodes()));
      }

      for (int n : COUNTS) {
        FakeModel solo = model("alone" + n, LAYER_BYTES, 70 + n, work);
        FakeModel m = model("n" + n, LAYER_BYTES, 50 + n, work);
        office.registry.addModel(solo).addModel(m);
        double cpu0 = office.cpuSeconds();
        Phase alone = office.pull("alone" + n, solo, List.of(0));
        double cpu1 = office.cpuSeconds();
        NetnsOffice.assertPulledIntact(alone);
        Map<Integer, Long> before = served(office, most);
        Phase p = office.pull("together" + n, m, office.firstNodes(n));
        double cpu2 = office.cpuSeconds();
        Map<Integer, Long> after = served(office, most);
        Map<Integer, Long> delta = new LinkedHashMap<>();
        after.forEach((i, v) -> delta.put(i, v - before.get(i)));
        int fetcher = p.nodeUpstreamBytes().entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
        rows.add(new Row(n, alone, p, delta, fetcher, cpu1 - cpu0, cpu2 - cpu1));
        report(office, rows);
        NetnsOffice.assertPulledIntact(p);
      }
    } finally {
      office.close(NetnsOffice.jar().getParent().resolve("mesh-swarm-logs"), problems);
      NetnsOffice.quietly(problems, () -> NetnsOffice.deleteTree(work));
    }
    List<org.junit.jupiter.api.function.Executable> checks = new ArrayList<>();
    for (Row r : rows) {
      Phase p = r.phase();
      checks.add(() -> assertTrue(p.registryRatio() <= MAX_WAN_RATIO && p.wanRatio() <= MAX_WAN_RATIO, String.format(
          "N = %d: WAN bytes %.3fx the model by the registry, %.3fx by the veth, want <= %.2fx", r.n(), p.registryRatio(), p.wanRatio(),
          MAX_WAN_RATIO)));
      if (MAX_RATIO > 0) {
        checks.add(() -> assertTrue(r.ratio() <= MAX_RATIO, String.format(
            "N = %d: T(N) = %.2f s, T(1) = %.2f s: %.2f, want <= %.2f", r.n(), p.seconds(), r.alone().seconds(), r.ratio(), MAX_RATIO)));
      }
      if (r.n() >= 3) {
        checks.add(() -> assertTrue(r.fetcherShare() <= MAX_FETCHER_SHARE, String.format(
            "N = %d: the fetcher (n%d) served %.0f%% of what nodes served peers (%s), want <= %.0f%%: a swarm, not a star", r.n(),
            r.fetcher() + 1, 100 * r.fetcherShare(), r.servedToPeers(), 100 * MAX_FETCHER_SHARE)));
      }
    }
    assertAll("a swarm, not a star", checks);
    if (!problems.isEmpty()) {
      AssertionError e = new AssertionError("tear-down: " + problems);
      problems.forEach(e::addSuppressed);
      throw e;
    }
  }

  private static FakeModel model(String name, long bytes, int seed, Path work) {
    return ModelFixture.of("library/swarm-" + name, "latest").layer(MediaTypes.MODEL, bytes).layer(MediaTypes.TEMPLATE, 311)
        .layer(MediaTypes.PARAMS, 97).seed(seed).create(work.resolve("model-" + name));
  }

  /** {@code pullmesh_peer_served_bytes_total} of every node. */
  private static Map<Integer, Long> served(NetnsOffice office, int nodes) {
    Map<Integer, Long> out = new LinkedHashMap<>();
    for (int i = 0; i < nodes; i++) {
      out.put(i, (long) NetnsOffice.metricSum(i, "pullmesh_peer_served_bytes_total", ""));
    }
    return out;
  }

  private static void report(NetnsOffice office, List<Row> rows) throws Exception {
    StringBuilder b = new StringBuilder();
    b.append("MeshSwarmIT ").append(Instant.now()).append(": ").append(office.nodes.size()).append(" nodes in network namespaces; WAN ")
        .append(MBIT).append(" Mbit/s each way and every node's uplink ").append(MBIT).append(" Mbit/s (tc tbf)\n");
    b.append(String.format("model: %,d bytes (%d MiB layer + small blobs), a cold one per pull; every node pulled %d warm-up model(s) of %d MiB "
        + "first; T(1), one node alone, measured again just before each T(N)%n", rows.get(0).phase().model().totalBytes(), LAYER_BYTES >> 20, WARMUPS, WARMUP_BYTES >> 20));
    b.append(String.format("%-4s %8s %8s %8s %10s %10s %14s %14s  %s%n", "N", "T(1) s", "T(N) s", "T(N)/T1", "WAN/model", "veth/model",
        "fetcher share", "CPU s T1 | TN", "per client (s) | bytes served to peers per node"));
    for (Row r : rows) {
      Phase p = r.phase();
      StringBuilder served = new StringBuilder();
      r.servedToPeers().forEach((n, v) -> served.append(String.format(" n%d%s %,d", n + 1, n == r.fetcher() ? "(fetcher)" : "", v)));
      b.append(String.format("%-4d %8.2f %8.2f %8.2f %9.3fx %9.3fx %13.0f%% %6.1f | %5.1f  %s |%s%n", r.n(), r.alone().seconds(), p.seconds(),
          r.ratio(), p.registryRatio(), p.wanRatio(), 100 * r.fetcherShare(), r.cpuAlone(), r.cpu(), clients(p), served));
    }
    b.append(String.format("CPU s: what the nodes and clients used during T(1) and T(N), of the %d CPUs x the window this machine "
        + "has (shared with whatever else runs on it)%n", Runtime.getRuntime().availableProcessors()));
    b.append("\n").append(office.net.describeShaping()).append("\n");
    String text = b.toString();
    System.out.println(text);
    Path dir = NetnsOffice.jar().getParent();
    Files.writeString(dir.resolve("mesh-swarm.txt"), text, StandardCharsets.UTF_8);
    List<SwarmChart.Point> points = new ArrayList<>(List.of(new SwarmChart.Point(1, 1.0, rows.get(0).alone().registryRatio())));
    rows.forEach(r -> points.add(new SwarmChart.Point(r.n(), r.ratio(), r.phase().registryRatio())));
    double t1 = rows.stream().mapToDouble(r -> r.alone().seconds()).min().orElse(0);
    Files.writeString(dir.resolve("mesh-swarm.svg"), SwarmChart.svg(points, MBIT, LAYER_BYTES >> 20, t1), StandardCharsets.UTF_8);
  }

  private static String clients(Phase p) {
    StringBuilder b = new StringBuilder();
    for (ClientRun r : p.runs()) {
      b.append(String.format("n%d %s ", r.node() + 1, r.ok() ? String.format("%.2f", r.seconds()) : "FAILED"));
    }
    return b.toString().strip();
  }
}
