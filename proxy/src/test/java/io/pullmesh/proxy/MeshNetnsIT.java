package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.pullmesh.proxy.NetnsOffice.ClientRun;
import io.pullmesh.proxy.NetnsOffice.Phase;
import io.pullmesh.proxy.ProxyProcessIT.ProxyProcess;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import io.pullmesh.testkit.tools.Tools;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
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
 *   <li>All three pull a third cold model at once, and the node fetching it from upstream is killed (SIGKILL to its
 *       JVM) a third of the way in: the two survivors finish byte-identical, the WAN carrying at most 1.3x the model
 *       (the dead node's unshared bytes are the only waste). The killed node's client fails.
 *   <li>The killed node, restarted on its cache directory, rejoins the mesh of three and serves that model
 *       byte-identical from its own partial file and its peers, next to nothing from upstream.
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
  /** The warm-up model's layer, pulled through every node before anything is measured. */
  static final long WARM_UP_BYTES = 24L << 20;
  /** Peer sharing's targets: WAN bytes at most this times the model's bytes, ... */
  static final double MAX_WAN_RATIO = 1.05;
  /** ... and the last of the concurrent nodes done within this times the single node's time. */
  static final double MAX_T3_OVER_T1 = 1.5;
  /**
   * The node fetching the third model from upstream is killed (SIGKILL) once its upstream counter shows this share
   * of the model: a third of the way in, well inside 25-50% whatever the polling step.
   */
  static final double KILL_AT = 0.33;
  /**
   * A killed fetcher's waste: WAN bytes of the kill phase at most this times the model's bytes. Measured in five
   * runs: 1.05-1.11 by the registry's count, 1.02-1.05 by the veth's. The waste is what was on its way to the fetcher
   * when it died: 5-13 MB crossed the veth, and the registry also counts what sat in its send buffers and never
   * crossed (13-28 MB in all). 1.3 allows about three times the worst of that. It still fails when the survivors
   * throw away what they had streamed from the dead node: a takeover from zero costs 1.33x plus the waste, since the
   * kill comes a third of the way in.
   */
  static final double MAX_KILL_WAN_RATIO = 1.3;
  /**
   * What the restarted node may fetch from upstream for a model its peers (and its own partial) hold: nothing is
   * needed (0 measured); a few pieces' worth is "a small amount".
   */
  static final double MAX_REJOIN_WAN_RATIO = 0.05;
  private static final Duration START_DEADLINE = NetnsOffice.START_DEADLINE;
  private static final Duration PULL_DEADLINE = NetnsOffice.PULL_DEADLINE;
  /** How long after the kill the killed node's client may take to give up (its retries take about 63 s). */
  private static final Duration VICTIM_CLIENT_DEADLINE = Duration.ofSeconds(90);
  private static final String SECRET = "netns-mesh-secret-0123456789abcdef";

  NetnsOffice office;
  /** The office's parts, by the names the tests use. */
  Netns net;
  FakeRegistry registry;
  List<ProxyProcess> nodes = List.of();
  List<Integer> meshSizeAtJoin = List.of();
  List<ProxyProcess> clients = List.of();
  Path work;
  FakeModel solo;
  FakeModel shared;
  CompletableFuture<FakeModel> soloModel;
  CompletableFuture<FakeModel> sharedModel;
  CompletableFuture<FakeModel> killModel;
  FakeModel killed;
  Phase baseline;
  Phase together;
  Killing killing;
  Rejoin rejoin;
  String skipReason;

  /**
   * The kill phase: which node was killed (0-based) and how, {@code killedAfterMillis} after the pulls were sent,
   * when its upstream counter last read {@code fetchedAtKill} bytes; the killed node's client's result line (null if
   * it printed none within the deadline) and when; how many /metrics scrapes crossed the WAN link to find and watch
   * the fetcher; how long after the kill both survivors' {@code pullmesh_mesh_peers} showed it gone (-1: not within
   * {@link #VICTIM_CLIENT_DEADLINE}).
   */
  record Killing(Phase phase, int victim, long pid, int exitCode, long killedAtMillis, long killedAfterMillis, long fetchedAtKill,
      int scrapes, String victimClientResult, long victimClientAfterMillis, long droppedAfterMillis) {
    /** What the killed node fetched from upstream: the registry's count less what the survivors' counters show. */
    long victimUpstreamBytes() {
      long survivors = 0;
      for (var e : phase.nodeUpstreamBytes().entrySet()) {
        if (e.getKey() != victim) {
          survivors += Math.max(0, e.getValue());
        }
      }
      return phase.registryBlobBytes() - survivors;
    }
  }

  /**
   * The killed node restarted on its cache: the mesh size its startup line reported, and one pull of the kill phase's
   * model through it; its layer's "resuming" and "committed" log lines.
   */
  record Rejoin(int meshSize, Phase phase, String resumedLine, String committedLine) {}

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
    killModel = sharedModel.thenApply(x -> ModelFixture.of("library/netns-killed", "latest")
        .layer(MediaTypes.MODEL, LAYER_BYTES).layer(MediaTypes.TEMPLATE, 311).layer(MediaTypes.PARAMS, 97).seed(33).create(w.resolve("model-killed")));

    office = NetnsOffice.build(work, NODES, WAN_MBIT, 0, SECRET);
    net = office.net;
    registry = office.registry;
    nodes = office.nodes;
    clients = office.clients;
    meshSizeAtJoin = office.meshSizeAtJoin;
    office.startNodesAndClients();
    // warm-up, not measured: every node and client serves one small model first (JIT), as a node that has run a while
    FakeModel warmUp = ModelFixture.of("library/netns-warmup", "latest").layer(MediaTypes.MODEL, WARM_UP_BYTES).layer(MediaTypes.PARAMS, 97)
        .seed(30).create(work.resolve("model-warmup"));
    registry.addModel(warmUp);
    NetnsOffice.assertPulledIntact(office.pull("warmup", warmUp, office.allNodes()));
    solo = soloModel.get(60, TimeUnit.SECONDS);
    shared = sharedModel.get(60, TimeUnit.SECONDS);
    killed = killModel.get(60, TimeUnit.SECONDS);
    registry.addModel(solo).addModel(shared).addModel(killed);
  }

  /** Each test is reported skipped, with the reason, on a machine where the network cannot be built. */
  @BeforeEach
  void skipUnlessUsable() {
    Assumptions.assumeTrue(skipReason == null, () -> "needs network namespaces: " + skipReason);
  }

  @AfterAll
  void tearDown() throws Exception {
    List<Throwable> problems = new ArrayList<>();
    if (office != null) {
      office.close(NetnsOffice.jar().getParent().resolve("mesh-netns-logs"), problems);
    }
    if (work != null) {
      for (CompletableFuture<FakeModel> f : java.util.Arrays.asList(soloModel, sharedModel, killModel)) {
        if (f != null) {
          NetnsOffice.quietly(problems, () -> f.handle((m, t) -> m).get(60, TimeUnit.SECONDS)); // not writing while the tree is deleted
        }
      }
      NetnsOffice.quietly(problems, () -> NetnsOffice.deleteTree(work));
    }
    if (!problems.isEmpty()) {
      AssertionError e = new AssertionError("tear-down: " + problems);
      problems.forEach(e::addSuppressed);
      throw e;
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

    baseline = office.pull("baseline", solo, List.of(0));
    writeReport();
    NetnsOffice.assertPulledIntact(baseline);
    NetnsOffice.assertWanCountersAgree(baseline);
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
    together = office.pull("together", shared, office.allNodes());
    writeReport();
    NetnsOffice.assertPulledIntact(together);
    NetnsOffice.assertWanCountersAgree(together);

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


  /**
   * A third cold model, pulled by all three nodes at once; the node fetching it from upstream is killed outright
   * (SIGKILL to its JVM: no leave, no goodbye to Hazelcast, its sockets reset by the kernel) once it has fetched
   * {@link #KILL_AT} of the model. The two survivors must finish with byte-identical blobs, and the WAN carry at most
   * {@link #MAX_KILL_WAN_RATIO} times the model: the bytes the dead node fetched but had not yet passed on are the
   * only waste (docs/mesh.md, "What happens on a pull", 5). The killed node's client fails; it is not asserted.
   *
   * <p>The survivors stream each piece from the fetcher as it arrives, and a piece cut short resumes where it
   * stopped, so what dies with the fetcher is only what was on its way to it: bytes in the registry's socket buffers
   * and the tc queue (counted by the registry, never across the veth), and bytes it had received but not yet passed
   * on. The bound is explained at {@link #MAX_KILL_WAN_RATIO}; the measured ratio is printed.
   */
  @Test
  @Order(3)
  void aFetcherKilledMidTransferCostsOnlyTheBytesItHadNotShared() throws Exception {
    Assumptions.assumeTrue(baseline != null && baseline.runs().stream().allMatch(ClientRun::ok),
        "needs the single-node baseline of the first test");
    String name = "killed";
    long modelBytes = killed.totalBytes();
    Map<Integer, Long> nodeBefore = new LinkedHashMap<>();
    for (int i = 0; i < NODES; i++) {
      nodeBefore.put(i, office.upstreamBlobBytes(i));
    }
    long registryBefore = registry.stats().blobBytes();
    long downBefore = net.wanDownBytes();
    long upBefore = net.wanUpBytes();
    long sent = System.currentTimeMillis();
    office.sendPull(name, killed, office.allNodes());

    // the fetcher is the node whose upstream counter grows; then only it is watched, until it has KILL_AT of the model
    int victim = -1;
    long seen = 0;
    int scrapes = 0;
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (victim < 0 || seen < KILL_AT * modelBytes) {
      for (int i = 0; i < NODES; i++) {
        if (victim >= 0 && i != victim) {
          continue;
        }
        long v = office.upstreamBlobBytes(i) - nodeBefore.get(i);
        scrapes++;
        if (victim < 0 && v >= (1L << 20)) {
          victim = i;
        }
        if (i == victim) {
          seen = v;
        }
      }
      if (System.nanoTime() > deadline) {
        fail("no node's pullmesh_upstream_bytes_total{kind=\"blob\"} reached " + KILL_AT + " of the model within 60 s (fetcher "
            + (victim < 0 ? "none" : "n" + (victim + 1)) + ", " + seen + " bytes)\n" + nodes.get(0).describe());
      }
      Thread.sleep(50);
    }
    long fetchedAtKill = seen;
    ProxyProcess dead = nodes.get(victim);
    ProcessHandle jvm = jvmOf(dead, victim);
    long killedAt = System.currentTimeMillis();
    var k = Tools.run(Duration.ofSeconds(10), "kill", "-KILL", Long.toString(jvm.pid()));
    assertEquals(0, k.exitCode(), "kill -KILL " + jvm.pid() + ": " + k.stderr());
    int exit = dead.awaitExit(Duration.ofSeconds(10));
    jvm.onExit().get(10, TimeUnit.SECONDS);
    assertEquals(128 + 9, exit, "node " + (victim + 1) + "'s JVM (pid " + jvm.pid() + ") died of SIGKILL\n" + dead.describe());
    String which = jvm.pid() == dead.process.pid() ? "the process ip netns exec became" : "a child of pid " + dead.process.pid();
    System.out.printf("MeshNetnsIT: killed node %d (the JVM, pid %d, %s; exit %d) %.2f s into the pull, its upstream counter at %,d "
        + "bytes (%.0f%%)%n", victim + 1, jvm.pid(), which, exit, (killedAt - sent) / 1000.0, fetchedAtKill, 100.0 * fetchedAtKill / modelBytes);

    // Until the survivors' clients are done (the WAN measured then), the killed node's client has given up (a part
    // fails after Ollama's 6 tries, with 1+2+4+8+16+32 s of sleeps: about 63 s after the kill; waited for, so that no
    // retry of it reaches the node once restarted) and the survivors have seen the dead member leave the cluster
    // (pullmesh_mesh_peers; the scrapes before the WAN is measured are counted).
    Map<Integer, ClientRun> survived = new java.util.TreeMap<>();
    long registryBytes = 0;
    long down = 0;
    long up = 0;
    Map<Integer, Long> perNode = new LinkedHashMap<>();
    ProxyProcess victimClient = clients.get(victim);
    String victimResult = null;
    long victimResultAt = -1;
    long droppedAt = -1;
    long survivorsBy = System.nanoTime() + PULL_DEADLINE.toNanos();
    long restBy = System.nanoTime() + VICTIM_CLIENT_DEADLINE.toNanos();
    while (survived.size() < NODES - 1 || ((victimResult == null || droppedAt < 0) && System.nanoTime() < restBy)) {
      for (int i = 0; i < NODES; i++) {
        if (i != victim && !survived.containsKey(i)) {
          String line = clients.get(i).awaitStdout(l -> l.startsWith("result " + name + " "), Duration.ZERO);
          if (line != null) {
            survived.put(i, NetnsOffice.parse(i, name, line, clients.get(i)));
          }
        }
      }
      if (survived.size() == NODES - 1 && perNode.isEmpty()) {
        registryBytes = registry.stats().blobBytes() - registryBefore;
        down = net.wanDownBytes() - downBefore;
        up = net.wanUpBytes() - upBefore;
        for (int i = 0; i < NODES; i++) {
          perNode.put(i, i == victim ? -1 : office.upstreamBlobBytes(i) - nodeBefore.get(i)); // after the counters
        }
      }
      if (victimResult == null) {
        victimResult = victimClient.awaitStdout(l -> l.startsWith("result " + name + " "), Duration.ZERO);
        victimResultAt = System.currentTimeMillis();
      }
      if (droppedAt < 0) {
        boolean gone = true;
        for (int i = 0; i < NODES; i++) {
          if (i != victim) {
            gone &= office.meshPeers(i) == NODES - 2;
            scrapes += perNode.isEmpty() ? 1 : 0;
          }
        }
        droppedAt = gone ? System.currentTimeMillis() : -1;
      }
      if (survived.size() < NODES - 1 && System.nanoTime() > survivorsBy) {
        for (int i = 0; i < NODES; i++) {
          if (i != victim && !survived.containsKey(i)) {
            fail("node " + (i + 1) + "'s client did not finish '" + name + "' within " + PULL_DEADLINE + " (node " + (victim + 1)
                + " killed)\n" + clients.get(i).describe() + "\nnode:\n" + nodes.get(i).describe());
          }
        }
      }
      Thread.sleep(200);
    }
    List<ClientRun> runs = new ArrayList<>(survived.values());
    ClientRun victimRun = victimResult == null ? new ClientRun(victim, false, "no result within " + VICTIM_CLIENT_DEADLINE, 0, 0, Map.of())
        : NetnsOffice.parse(victim, name, victimResult, victimClient);
    runs.add(victim, victimRun); // runs in node order
    Phase phase = new Phase(name, killed, runs, registryBytes, down, up, perNode);
    killing = new Killing(phase, victim, jvm.pid(), exit, killedAt, killedAt - sent, fetchedAtKill, scrapes, victimResult,
        victimResult == null ? -1 : victimResultAt - sent, droppedAt < 0 ? -1 : droppedAt - killedAt);
    writeReport();

    final long registryBytesF = registryBytes;
    final long downF = down;
    final int scrapesF = scrapes;
    List<ClientRun> survivorRuns = runs.stream().filter(r -> r.node() != killing.victim()).toList();
    Phase survivors = new Phase(name, killed, survivorRuns, registryBytes, down, up, perNode);
    NetnsOffice.assertPulledIntact(survivors);
    assertAll("node " + (killing.victim() + 1) + " killed while fetching " + killed.reference() + " for the mesh",
        () -> assertTrue(fetchedAtKill >= 0.25 * modelBytes && fetchedAtKill <= 0.5 * modelBytes, String.format(
            "killed at %,d of %,d bytes fetched, want 25-50%%", fetchedAtKill, modelBytes)),
        () -> assertTrue(phase.registryRatio() <= MAX_KILL_WAN_RATIO, String.format(
            "WAN bytes by the registry's count: %,d for a %,d-byte model = %.3fx, want <= %.2fx",
            registryBytesF, modelBytes, phase.registryRatio(), MAX_KILL_WAN_RATIO)),
        () -> assertTrue(phase.wanRatio() <= MAX_KILL_WAN_RATIO, String.format(
            "WAN bytes by the veth's counters: %,d for a %,d-byte model = %.3fx, want <= %.2fx",
            downF, modelBytes, phase.wanRatio(), MAX_KILL_WAN_RATIO)),
        // the registry counts bytes written to sockets: those queued for the dead node when it died never crossed
        () -> assertTrue(downF <= registryBytesF * 1.03 + (1 << 20), String.format(
            "the WAN veth's tx bytes (%,d) at most the registry's blob bytes (%,d) plus headers and %d /metrics scrapes",
            downF, registryBytesF, scrapesF)));
  }

  /**
   * The killed node, restarted on the same cache directory, rejoins the mesh (its startup line reports all three
   * nodes) and serves the model it was killed fetching byte-identical, from its own partial file and its peers'
   * copies: at most {@link #MAX_REJOIN_WAN_RATIO} of the model from upstream.
   */
  @Test
  @Order(4)
  void theKilledNodeRestartedOnItsCacheRejoinsAndServesTheModelFromItsPartialAndPeers() throws Exception {
    Assumptions.assumeTrue(killing != null, "needs the kill of the third test");
    int victim = killing.victim();
    if (killing.victimClientResult() == null) {
      // still retrying the killed pull: a retry must not reach the restarted node, so the client makes way for a new one
      clients.get(victim).kill();
      clients.set(victim, office.launch(net.nodes.get(victim), "client" + (victim + 1) + "-replaced", NetnsOffice.clientCommand(victim), true));
    }
    // measured from before the restart: a node resumes its unfinished downloads as it starts, before any client asks
    Map<Integer, Long> nodeBefore = new LinkedHashMap<>();
    for (int i = 0; i < NODES; i++) {
      nodeBefore.put(i, i == victim ? 0 : office.upstreamBlobBytes(i)); // the restarted node's counters start at 0
    }
    long registryBefore = registry.stats().blobBytes();
    long downBefore = net.wanDownBytes();
    long upBefore = net.wanUpBytes();
    ProxyProcess p = office.startNode(victim, "node" + (victim + 1) + "-restarted");
    nodes.set(victim, p);
    int size = office.awaitMeshSize(victim, p);
    if (killing.victimClientResult() == null && clients.get(victim).awaitStdout("ready 200"::equals, START_DEADLINE) == null) {
      fail("the new client printed no 'ready 200' within " + START_DEADLINE + "\n" + clients.get(victim).describe());
    }
    String name = "rejoin";
    office.sendPull(name, killed, List.of(victim));
    ClientRun run = office.awaitPull(victim, name, PULL_DEADLINE);
    long registryBytes = registry.stats().blobBytes() - registryBefore;
    long down = net.wanDownBytes() - downBefore;
    long up = net.wanUpBytes() - upBefore;
    Map<Integer, Long> perNode = new LinkedHashMap<>();
    for (int i = 0; i < NODES; i++) {
      perNode.put(i, office.upstreamBlobBytes(i) - nodeBefore.get(i));
    }
    Phase phase = new Phase(name, killed, List.of(run), registryBytes, down, up, perNode);
    Pattern layer = Pattern.compile(Pattern.quote(killed.blobs().get(0).digest().toString()));
    String resumed = null;
    String committed = null;
    for (String l : p.stderr().split("\n")) {
      if (layer.matcher(l).find() && l.contains("resuming ")) {
        resumed = l.substring(l.indexOf("resuming "));
      }
      if (layer.matcher(l).find() && l.contains("committed ")) {
        committed = l.substring(l.indexOf("committed "));
      }
    }
    rejoin = new Rejoin(size, phase, resumed, committed);
    writeReport();

    assertEquals(NODES, size, "the restarted node joined the two survivors (its startup line's mesh size)\n" + p.describe());
    NetnsOffice.assertPulledIntact(phase);
    assertTrue(phase.registryRatio() <= MAX_REJOIN_WAN_RATIO, String.format(
        "the restarted node fetched %,d blob bytes from upstream for a %,d-byte model its peers hold (%.3fx), want <= %.2fx\n%s",
        phase.registryBlobBytes(), killed.totalBytes(), phase.registryRatio(), MAX_REJOIN_WAN_RATIO, p.describe()));
  }

  // ------------------------------------------------------------------ pulling

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
    Phase killedPhase = killing == null ? null : killing.phase();
    Phase rejoinPhase = rejoin == null ? null : rejoin.phase();
    for (Phase p : new Phase[] {baseline, together, killedPhase, rejoinPhase}) {
      if (p == null) {
        continue;
      }
      StringBuilder per = new StringBuilder();
      for (ClientRun r : p.runs()) {
        per.append(String.format("n%d %s ", r.node() + 1, r.ok() ? String.format("%.2f", r.seconds())
            : p == killedPhase && r.node() == killing.victim() ? "FAILED (its node killed)" : "FAILED"));
      }
      per.append("|");
      p.nodeUpstreamBytes().forEach((n, v) -> per.append(p == killedPhase && n == killing.victim()
          ? String.format(" n%d killed, ~%,d by the registry", n + 1, killing.victimUpstreamBytes()) : String.format(" n%d %,d", n + 1, v)));
      String label = p == baseline ? "T1: 1 node alone" : p == together ? "T3: " + NODES + " nodes at once"
          : p == killedPhase ? "TK: " + NODES + ", n" + (killing.victim() + 1) + " killed" : "n" + (killing.victim() + 1) + " restarted, alone";
      b.append(String.format("%-22s %9.2f %,16d %8.3fx %,16d %8.3fx %,12d  %s%n", label, p.seconds(), p.registryBlobBytes(),
          p.registryRatio(), p.wanDown(), p.wanRatio(), p.wanUp(), per.toString().strip()));
    }
    if (baseline != null && together != null) {
      b.append(String.format("%nT3/T1 = %.2f (target < %.2f); WAN bytes / model bytes, %d nodes at once = %.3f by the registry, %.3f by "
          + "the veth (target <= %.2f)%n", together.seconds() / baseline.seconds(), MAX_T3_OVER_T1, NODES, together.registryRatio(),
          together.wanRatio(), MAX_WAN_RATIO));
    }
    if (killing != null) {
      Killing k = killing;
      Phase p = k.phase();
      b.append(String.format("%nTK (a third cold model, all %d nodes at once; the fetcher killed mid-transfer): node %d, the fetcher, got SIGKILL "
          + "(pid %d, exit %d) %.2f s after the pulls began, its upstream counter at %,d bytes (%.1f%% of the model); by the registry's "
          + "count it fetched ~%,d bytes (%.1f%%) before it died%n", NODES, k.victim() + 1, k.pid(), k.exitCode(),
          k.killedAfterMillis() / 1000.0, k.fetchedAtKill(), 100.0 * k.fetchedAtKill() / p.model().totalBytes(),
          k.victimUpstreamBytes(), 100.0 * k.victimUpstreamBytes() / p.model().totalBytes()));
      b.append(String.format("TK: the survivors done %.2f s after the pulls began (T1 %.2f s); WAN bytes / model bytes = %.3f by the "
          + "registry, %.3f by the veth (bound <= %.2f; the veth count includes %d /metrics scrapes that found and watched the fetcher)%n",
          p.seconds(), baseline == null ? 0 : baseline.seconds(), p.registryRatio(), p.wanRatio(), MAX_KILL_WAN_RATIO, k.scrapes()));
      b.append(String.format("TK: node %d's client: %s%n", k.victim() + 1, k.victimClientResult() == null
          ? "no result within " + VICTIM_CLIENT_DEADLINE.toSeconds() + " s of the kill (killed and replaced by a new client)"
          : String.format("'%s' %.2f s after the pulls began", k.victimClientResult(), k.victimClientAfterMillis() / 1000.0)));
      b.append(String.format("TK: both survivors' pullmesh_mesh_peers showed the dead member gone %s%n", k.droppedAfterMillis() < 0
          ? "NOT within " + VICTIM_CLIENT_DEADLINE.toSeconds() + " s of the kill"
          : String.format("%.1f s after the kill (the cluster's heartbeat timeout is 15 s)", k.droppedAfterMillis() / 1000.0)));
    }
    if (rejoin != null) {
      Rejoin r = rejoin;
      b.append(String.format("%nrestart: node %d restarted on its cache directory; its startup line reported %d node(s)%n",
          killing.victim() + 1, r.meshSize()));
      b.append(String.format("restart: pulled the killed phase's model through it in %.2f s; from its start to the pull's end the registry "
          + "sent %,d blob bytes (%.3fx; bound <= %.2fx); the node's own upstream counter %,d%n", r.phase().seconds(), r.phase().registryBlobBytes(),
          r.phase().registryRatio(), MAX_REJOIN_WAN_RATIO, r.phase().nodeUpstreamBytes().get(killing.victim())));
      b.append("restart: the layer: ").append(r.resumedLine() == null ? "no 'resuming' line (nothing of its partial reused)" : r.resumedLine())
          .append("; ").append(r.committedLine() == null ? "no 'committed' line" : r.committedLine()).append("\n");
    }
    b.append("\n").append(net.describeShaping()).append("\n");
    String text = b.toString();
    System.out.println(text);
    Files.writeString(NetnsOffice.jar().getParent().resolve("mesh-netns.txt"), text, StandardCharsets.UTF_8);
  }

  /**
   * The JVM of a node started with {@code ip netns exec}: the process itself (iproute2 execs the command in the
   * namespace, no fork) or, were there a wrapper, its descendant running {@code java -jar}; checked to be a java
   * binary in node {@code i}'s namespace.
   */
  private ProcessHandle jvmOf(ProxyProcess p, int i) {
    List<ProcessHandle> all = new ArrayList<>();
    all.add(p.process.toHandle());
    p.process.descendants().forEach(all::add);
    for (ProcessHandle h : all) {
      boolean isJvm = h.info().command().map(c -> c.endsWith("/java")).orElse(false)
          && h.info().arguments().map(a -> java.util.Arrays.asList(a).contains("-jar")).orElse(false);
      if (isJvm) {
        String ns = Tools.run(Duration.ofSeconds(10), "ip", "netns", "identify", Long.toString(h.pid())).stdout().strip();
        assertEquals(net.nodes.get(i), ns, "the JVM of node " + (i + 1) + " (pid " + h.pid() + ") runs in its namespace");
        return h;
      }
    }
    fail("no java -jar process among " + all.stream().map(h -> h.pid() + " " + h.info().command().orElse("?")).toList() + "\n" + p.describe());
    return null;
  }

}
