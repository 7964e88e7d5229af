package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.pullmesh.proxy.ProxyProcessIT.ProxyProcess;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Three pullmesh nodes on one office LAN behind one shaped WAN link, each in its own network namespace
 * ({@link Netns}), running the shaded jar as users do; the fake registry is "the internet" in this JVM.
 *
 * <ol>
 *   <li>The three nodes find each other by multicast (no {@code --mesh-members}); one node alone pulls a cold
 *       256 MiB model: T1, which the WAN rate bounds.
 *   <li>All three pull another cold 256 MiB model at the same moment. With peer fetching and mesh-wide
 *       single-flight (docs/mesh.md, "Next") the WAN carries the model once (at most 1.05x its bytes, by the
 *       registry's count and by the WAN veth's counters) and the last node finishes within 1.5x T1.
 * </ol>
 *
 * Each client is a long-running JVM in its node's namespace ({@link NetnsPullClient}), so client traffic never
 * crosses the WAN link. Before anything is measured every node and client pulls a small warm-up model (JIT), so
 * T1 and T3 both time warm processes. The numbers are printed and written to {@code proxy/target/mesh-netns.txt}; the nodes'
 * logs are kept in {@code proxy/target/mesh-netns-logs/}. Needs root (skipped otherwise; fails instead with
 * {@code -Dpullmesh.require.tools=true}). Run alone:
 * {@code mvn -B -pl proxy -am verify -Dit.test=MeshNetnsIT -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MeshNetnsIT {
  /** The WAN link's rate each way (tc tbf): a 256 MiB model takes about 11 s through it. */
  static final int WAN_MBIT = 200;
  static final int NODES = 3;
  static final long LAYER_BYTES = 256L << 20;
  static final int PORT = 9200;
  /** The warm-up model's layer, pulled through every node before anything is measured. */
  static final long WARM_UP_BYTES = 24L << 20;
  /** Peer sharing's targets: WAN bytes at most this times the model's bytes, ... */
  static final double MAX_WAN_RATIO = 1.05;
  /** ... and the last of the concurrent nodes done within this times the single node's time. */
  static final double MAX_T3_OVER_T1 = 1.5;
  private static final Duration START_DEADLINE = Duration.ofSeconds(60);
  private static final Duration PULL_DEADLINE = Duration.ofSeconds(150);
  private static final String SECRET = "netns-mesh-secret-0123456789abcdef";

  Netns net;
  FakeRegistry registry;
  Path work;
  FakeModel solo;
  FakeModel shared;
  String meshName;
  final List<ProxyProcess> nodes = new ArrayList<>();
  final List<Integer> meshSizeAtJoin = new ArrayList<>();
  final List<ProxyProcess> clients = new ArrayList<>();
  CompletableFuture<FakeModel> soloModel;
  CompletableFuture<FakeModel> sharedModel;
  Phase baseline;
  Phase together;
  String skipReason;

  /** What one phase measured. */
  record Phase(String name, FakeModel model, List<ClientRun> runs, long registryBlobBytes, long wanDown, long wanUp,
      Map<Integer, Long> nodeUpstreamBytes) {
    /** From the earliest client start to the last client end. */
    double seconds() {
      long start = runs.stream().mapToLong(ClientRun::startMillis).min().orElse(0);
      long end = runs.stream().mapToLong(ClientRun::endMillis).max().orElse(0);
      return (end - start) / 1000.0;
    }

    double registryRatio() {
      return (double) registryBlobBytes / model.totalBytes();
    }

    double wanRatio() {
      return (double) wanDown / model.totalBytes();
    }
  }

  /** One client's pull: ok or why not, its window, and per blob digest the size and SHA-256 it found on disk. */
  record ClientRun(int node, boolean ok, String failure, long startMillis, long endMillis, Map<String, String> blobs) {
    double seconds() {
      return (endMillis - startMillis) / 1000.0;
    }
  }

  // ------------------------------------------------------------------ set-up and tear-down

  @BeforeAll
  void buildOfficeAndStartNodes() throws Exception {
    skipReason = Netns.skipReason();
    if (skipReason != null) {
      System.out.println("MeshNetnsIT skipped: " + skipReason);
      return;
    }
    List<String> stale = Netns.removeStale();
    if (!stale.isEmpty()) {
      System.out.println("MeshNetnsIT: removed what an earlier run left: " + stale);
    }
    work = Files.createTempDirectory("pullmesh-netns-");
    // the two 256 MiB models are written while the nodes start
    Path w = work;
    soloModel = CompletableFuture.supplyAsync(() -> ModelFixture.of("library/netns-solo", "latest")
        .layer(MediaTypes.MODEL, LAYER_BYTES).layer(MediaTypes.TEMPLATE, 311).layer(MediaTypes.PARAMS, 97).seed(31).create(w.resolve("model-solo")));
    sharedModel = soloModel.thenApply(x -> ModelFixture.of("library/netns-shared", "latest")
        .layer(MediaTypes.MODEL, LAYER_BYTES).layer(MediaTypes.TEMPLATE, 311).layer(MediaTypes.PARAMS, 97).seed(32).create(w.resolve("model-shared")));

    net = Netns.office(NODES, WAN_MBIT);
    meshName = "pm-" + net.id;
    registry = FakeRegistry.builder().registryHost(Netns.UPSTREAM_ADDRESS).cdnHost(Netns.CDN_ADDRESS).start();
    Path secret = Files.writeString(work.resolve("mesh.secret"), SECRET + "\n");

    // one after another, so each joins the mesh the ones before it formed and reports its size
    Pattern meshLine = Pattern.compile("pullmesh mesh " + Pattern.quote(meshName) + ": node \\S+ with (\\d+) node\\(s\\)");
    for (int i = 0; i < NODES; i++) {
      String addr = Netns.nodeAddress(i);
      ProxyProcess p = launch(net.nodes.get(i), "node" + (i + 1), List.of(java(), "-Xmx256m", "-jar", jar().toString(),
          "--listen", addr + ":" + PORT, "--upstream", registry.registryUrl(), "--cache-dir", work.resolve("cache-" + (i + 1)).toString(),
          "--mesh-name", meshName, "--mesh-secret-file", secret.toString(), "--mesh-bind", addr), false);
      nodes.add(p);
      String line = p.awaitStdout(l -> meshLine.matcher(l).find(), START_DEADLINE);
      if (line == null) {
        fail("node " + (i + 1) + " printed no 'pullmesh mesh " + meshName + ": node ... with N node(s)' line within " + START_DEADLINE
            + "\n" + p.describe());
      }
      assertNotNull(p.awaitStdout(l -> l.contains("listening on http://" + addr + ":" + PORT), Duration.ofSeconds(5)), p.describe());
      Matcher m = meshLine.matcher(line);
      assertTrue(m.find());
      meshSizeAtJoin.add(Integer.parseInt(m.group(1)));
    }

    // one long-running client per node, inside the node's namespace (as Ollama would run on that machine)
    for (int i = 0; i < NODES; i++) {
      clients.add(launch(net.nodes.get(i), "client" + (i + 1), List.of(java(), "-Xmx256m", "-cp", testClasspath(),
          NetnsPullClient.class.getName(), "http://" + Netns.nodeAddress(i) + ":" + PORT), true));
    }
    for (ProxyProcess c : clients) {
      if (c.awaitStdout("ready 200"::equals, START_DEADLINE) == null) {
        fail("the client printed no 'ready 200' (its node's /healthz) within " + START_DEADLINE + "\n" + c.describe());
      }
    }
    // warm-up, not measured: every node and client serves one small model first (JIT), as a node that has run a while
    FakeModel warmUp = ModelFixture.of("library/netns-warmup", "latest").layer(MediaTypes.MODEL, WARM_UP_BYTES).layer(MediaTypes.PARAMS, 97)
        .seed(30).create(work.resolve("model-warmup"));
    registry.addModel(warmUp);
    assertPulledIntact(pull("warmup", warmUp, allNodes()));
    solo = soloModel.get(60, TimeUnit.SECONDS);
    shared = sharedModel.get(60, TimeUnit.SECONDS);
    registry.addModel(solo).addModel(shared);
  }

  /** Each test is reported skipped, with the reason, on a machine where the network cannot be built. */
  @BeforeEach
  void skipUnlessUsable() {
    Assumptions.assumeTrue(skipReason == null, () -> "needs network namespaces: " + skipReason);
  }

  @AfterAll
  void tearDown() throws Exception {
    List<Throwable> problems = new ArrayList<>();
    for (ProxyProcess p : clients) {
      quietly(problems, p::kill);
    }
    for (ProxyProcess p : nodes) {
      p.process.destroy(); // SIGTERM: leave the mesh as an operator's stop would
    }
    for (ProxyProcess p : nodes) {
      quietly(problems, () -> {
        if (p.awaitExit(Duration.ofSeconds(10)) == -1) {
          p.kill();
        }
      });
    }
    if (work != null) {
      quietly(problems, this::keepLogs);
    }
    if (registry != null) {
      quietly(problems, registry::close);
    }
    if (net != null) {
      quietly(problems, net::close);
    }
    if (work != null) {
      for (CompletableFuture<FakeModel> f : java.util.Arrays.asList(soloModel, sharedModel)) {
        if (f != null) {
          quietly(problems, () -> f.handle((m, t) -> m).get(60, TimeUnit.SECONDS)); // not writing while the tree is deleted
        }
      }
      quietly(problems, () -> deleteTree(work));
    }
    if (!problems.isEmpty()) {
      AssertionError e = new AssertionError("tear-down: " + problems);
      problems.forEach(e::addSuppressed);
      throw e;
    }
  }

  interface Step {
    void run() throws Exception;
  }

  private static void quietly(List<Throwable> problems, Step s) {
    try {
      s.run();
    } catch (Throwable t) {
      problems.add(t);
    }
  }

  // ------------------------------------------------------------------ the tests

  @Test
  @Order(1)
  void theNodesFindEachOtherByMulticastAndOneAlonePullsAtTheWanRate() throws Exception {
    List<Integer> expected = new ArrayList<>();
    for (int i = 1; i <= NODES; i++) {
      expected.add(i);
    }
    assertEquals(expected, meshSizeAtJoin, "each node joined the mesh the ones before it formed (multicast discovery across the "
        + "bridge); mesh sizes at join\n" + nodes.get(NODES - 1).describe());

    baseline = pull("baseline", solo, List.of(0));
    writeReport();
    assertPulledIntact(baseline);
    assertWanCountersAgree(baseline);
    double bound = solo.totalBytes() * 8.0 / (WAN_MBIT * 1e6);
    assertTrue(baseline.seconds() >= 0.9 * bound, "the WAN shaping holds a single pull to its rate: " + baseline.seconds()
        + " s for " + solo.totalBytes() + " bytes, " + bound + " s at " + WAN_MBIT + " Mbit/s");
    // far slower would mean something other than the WAN (CPU, a stall) sets T1, and T3/T1 would mean little
    assertTrue(baseline.seconds() <= 3 * bound, "a single pull is about as fast as the WAN allows: " + baseline.seconds()
        + " s, the rate's bound " + bound + " s");
    assertTrue(baseline.registryRatio() >= 1.0 && baseline.registryRatio() <= MAX_WAN_RATIO,
        "one cold node fetches the model once: registry sent " + baseline.registryBlobBytes() + " blob bytes for " + solo.totalBytes());
    assertTrue(baseline.wanRatio() <= MAX_WAN_RATIO, "the client's traffic stays in its node's namespace: the WAN link carried "
        + baseline.wanDown() + " bytes down for a " + solo.totalBytes() + "-byte model");
  }

  @Test
  @Order(2)
  void threeNodesPullingOneModelTogetherFetchItOverTheWanOnce() throws Exception {
    Assumptions.assumeTrue(baseline != null && baseline.runs().stream().allMatch(ClientRun::ok),
        "needs the single-node baseline of the first test");
    together = pull("together", shared, allNodes());
    writeReport();
    assertPulledIntact(together);
    assertWanCountersAgree(together);

    double t1 = baseline.seconds();
    double t3 = together.seconds();
    assertAll("peer sharing (docs/mesh.md, Next 1 and 2): " + NODES + " nodes pulling one model at once",
        () -> assertTrue(together.registryRatio() <= MAX_WAN_RATIO, String.format(
            "WAN bytes by the registry's count: %,d for a %,d-byte model = %.3fx, want <= %.2fx",
            together.registryBlobBytes(), shared.totalBytes(), together.registryRatio(), MAX_WAN_RATIO)),
        () -> assertTrue(together.wanRatio() <= MAX_WAN_RATIO, String.format(
            "WAN bytes by the veth's counters: %,d for a %,d-byte model = %.3fx, want <= %.2fx",
            together.wanDown(), shared.totalBytes(), together.wanRatio(), MAX_WAN_RATIO)),
        () -> assertTrue(t3 < MAX_T3_OVER_T1 * t1, String.format(
            "the last node done at T3 = %.2f s, T1 = %.2f s: T3/T1 = %.2f, want < %.2f", t3, t1, t3 / t1, MAX_T3_OVER_T1)));
  }

  // ------------------------------------------------------------------ pulling

  /**
   * Pulls {@code model} through the given nodes (0-based), their clients told to start at the same moment; measures
   * the WAN from that moment until the last client has every byte.
   */
  private Phase pull(String name, FakeModel model, List<Integer> through) throws Exception {
    Map<Integer, Long> nodeBefore = new LinkedHashMap<>();
    for (int i = 0; i < NODES; i++) {
      nodeBefore.put(i, upstreamBlobBytes(i)); // before the counters: a scrape crosses the WAN link
    }
    long registryBefore = registry.stats().blobBytes();
    long downBefore = net.wanDownBytes();
    long upBefore = net.wanUpBytes();
    for (int i : through) {
      OutputStream in = clients.get(i).process.getOutputStream();
      in.write(("pull " + name + " " + model.reference() + " " + work.resolve(name + "-ollama" + (i + 1)) + "\n")
          .getBytes(StandardCharsets.UTF_8));
      in.flush();
    }
    List<ClientRun> runs = new ArrayList<>();
    for (int i : through) {
      ProxyProcess c = clients.get(i);
      String result = c.awaitStdout(l -> l.startsWith("result " + name + " "), PULL_DEADLINE);
      if (result == null) {
        fail("node " + (i + 1) + "'s client did not finish '" + name + "' within " + PULL_DEADLINE + "\n" + c.describe()
            + "\nnode:\n" + nodes.get(i).describe());
      }
      runs.add(parse(i, name, result, c));
    }
    // the nodes may still be committing; their upstream traffic is over once the clients have every byte
    long registryBytes = registry.stats().blobBytes() - registryBefore;
    long down = net.wanDownBytes() - downBefore;
    long up = net.wanUpBytes() - upBefore;
    Map<Integer, Long> perNode = new LinkedHashMap<>();
    for (int i = 0; i < NODES; i++) {
      perNode.put(i, upstreamBlobBytes(i) - nodeBefore.get(i)); // after the counters: a scrape crosses the WAN link
    }
    return new Phase(name, model, runs, registryBytes, down, up, perNode);
  }

  private static List<Integer> allNodes() {
    List<Integer> all = new ArrayList<>();
    for (int i = 0; i < NODES; i++) {
      all.add(i);
    }
    return all;
  }

  private static ClientRun parse(int node, String id, String result, ProxyProcess c) {
    Map<String, String> blobs = new LinkedHashMap<>();
    for (String l : c.stdout().split("\n")) {
      if (l.startsWith("blob " + id + " ")) {
        String[] f = l.split(" ");
        blobs.put(f[2], f[3] + " " + f[4]);
      }
    }
    String[] f = result.split(" ", 4);
    if (f[2].equals("ok")) {
      String[] t = f[3].split(" ");
      return new ClientRun(node, true, null, Long.parseLong(t[0]), Long.parseLong(t[1]), blobs);
    }
    return new ClientRun(node, false, result + "\n" + c.describe(), 0, 0, blobs);
  }

  /** Every client succeeded, and each blob file it hashed has the model blob's size and digest. */
  private static void assertPulledIntact(Phase p) {
    for (ClientRun r : p.runs()) {
      assertTrue(r.ok(), "node " + (r.node() + 1) + "'s client pull failed: " + r.failure());
      Map<String, String> want = new LinkedHashMap<>();
      for (FakeBlob b : p.model().blobs()) {
        want.put(b.digest().toString(), b.size() + " " + b.digest());
      }
      assertEquals(want, r.blobs(), "node " + (r.node() + 1) + ": each blob's size and the SHA-256 of the client's copy");
    }
  }

  /** The two WAN measurements agree: the veth carried what the registry sent, plus headers and requests. */
  private static void assertWanCountersAgree(Phase p) {
    assertTrue(p.wanDown() >= p.registryBlobBytes() && p.wanDown() <= p.registryBlobBytes() * 1.03 + (1 << 20),
        String.format("the WAN veth's tx bytes (%,d) match the registry's blob bytes (%,d) plus headers", p.wanDown(), p.registryBlobBytes()));
  }

  /** {@code pullmesh_upstream_bytes_total{kind="blob"}} of node {@code i}, -1 if it cannot be read. */
  private long upstreamBlobBytes(int i) {
    try {
      RawResponse r = RawHttp.get("http://" + Netns.nodeAddress(i) + ":" + PORT + "/metrics");
      double sum = 0;
      for (String l : r.bodyText().split("\n")) {
        if (l.startsWith("pullmesh_upstream_bytes_total{") && l.contains("kind=\"blob\"")) {
          sum += Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1));
        }
      }
      return (long) sum;
    } catch (RuntimeException e) {
      return -1;
    }
  }

  // ------------------------------------------------------------------ the report

  private void writeReport() throws IOException {
    StringBuilder b = new StringBuilder();
    b.append("MeshNetnsIT ").append(Instant.now()).append(": ").append(NODES).append(" pullmesh nodes in network namespaces on one LAN bridge, WAN ")
        .append(WAN_MBIT).append(" Mbit/s each way (tc tbf), fake registry at ").append(registry.registryUrl())
        .append(" (CDN ").append(registry.cdnUrl()).append(")\n");
    b.append(String.format("model: %,d bytes (%d MiB layer + template, params, config); mesh sizes at join %s%n",
        solo.totalBytes(), LAYER_BYTES >> 20, meshSizeAtJoin));
    b.append(String.format("before measuring, every node and its client pulled a %d MiB warm-up model (JIT; not counted)%n", WARM_UP_BYTES >> 20));
    b.append(String.format("the WAN rate's bound for one model: %.2f s%n%n", solo.totalBytes() * 8.0 / (WAN_MBIT * 1e6)));
    b.append(String.format("%-22s %9s %16s %9s %16s %9s %12s  %s%n", "phase", "time (s)", "registry bytes", "/ model",
        "WAN veth down", "/ model", "WAN veth up", "per client (s) | node upstream blob bytes"));
    for (Phase p : new Phase[] {baseline, together}) {
      if (p == null) {
        continue;
      }
      StringBuilder per = new StringBuilder();
      for (ClientRun r : p.runs()) {
        per.append(String.format("n%d %s ", r.node() + 1, r.ok() ? String.format("%.2f", r.seconds()) : "FAILED"));
      }
      per.append("|");
      p.nodeUpstreamBytes().forEach((n, v) -> per.append(String.format(" n%d %,d", n + 1, v)));
      b.append(String.format("%-22s %9.2f %,16d %8.3fx %,16d %8.3fx %,12d  %s%n",
          p.name().equals("baseline") ? "T1: 1 node alone" : "T3: " + NODES + " nodes at once", p.seconds(), p.registryBlobBytes(),
          p.registryRatio(), p.wanDown(), p.wanRatio(), p.wanUp(), per.toString().strip()));
    }
    if (baseline != null && together != null) {
      b.append(String.format("%nT3/T1 = %.2f (target < %.2f); WAN bytes / model bytes, %d nodes at once = %.3f by the registry, %.3f by "
          + "the veth (target <= %.2f)%n", together.seconds() / baseline.seconds(), MAX_T3_OVER_T1, NODES, together.registryRatio(),
          together.wanRatio(), MAX_WAN_RATIO));
    }
    b.append("\n").append(net.describeShaping()).append("\n");
    String text = b.toString();
    System.out.println(text);
    Files.writeString(jar().getParent().resolve("mesh-netns.txt"), text, StandardCharsets.UTF_8);
  }

  /** Copies each process's stdout and stderr to {@code target/mesh-netns-logs/}. */
  private void keepLogs() throws IOException {
    Path logs = jar().getParent().resolve("mesh-netns-logs");
    deleteTree(logs);
    Files.createDirectories(logs);
    try (var s = Files.list(work)) {
      for (Path p : s.filter(f -> f.getFileName().toString().endsWith(".out") || f.getFileName().toString().endsWith(".err")).toList()) {
        Files.copy(p, logs.resolve(p.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }

  // ------------------------------------------------------------------ processes

  /**
   * {@code ip netns exec <namespace> command...}, stdout and stderr to {@code <work>/<label>.out|err}, no PULLMESH_*
   * variables inherited; stdin a pipe when {@code stdin}, else /dev/null.
   */
  private ProxyProcess launch(String namespace, String label, List<String> command, boolean stdin) throws IOException {
    List<String> cmd = Netns.exec(namespace, command);
    Path out = work.resolve(label + ".out");
    Path err = work.resolve(label + ".err");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
    if (!stdin) {
      pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    }
    pb.environment().keySet().removeIf(k -> k.startsWith("PULLMESH_"));
    return new ProxyProcess(cmd, pb.start(), out, err);
  }

  private static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  private static Path jar() {
    String jar = System.getProperty("pullmesh.proxy.jar");
    assertNotNull(jar, "system property pullmesh.proxy.jar (set by failsafe in proxy/pom.xml) names the shaded jar");
    Path p = Path.of(jar);
    assertTrue(Files.isRegularFile(p), "the shaded jar exists (built in the package phase): " + p);
    return p;
  }

  /** This JVM's test classpath (failsafe puts it in surefire.test.class.path; java.class.path may be its booter jar). */
  private static String testClasspath() {
    String cp = System.getProperty("surefire.test.class.path");
    return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
  }

  private static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (var s = Files.walk(root)) {
      for (Path p : s.sorted((x, y) -> y.compareTo(x)).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
