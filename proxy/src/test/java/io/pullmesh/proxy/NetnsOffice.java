package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.pullmesh.proxy.ProxyProcessIT.ProxyProcess;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.registry.FakeRegistry;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An office of pullmesh nodes for the network-namespace tests ({@link MeshNetnsIT}, {@link MeshSwarmIT}): the network
 * ({@link Netns}), the fake registry as "the internet", the nodes (the shaded jar, one process per node namespace, one
 * mesh found by multicast) and each node's Ollama-like client ({@link NetnsPullClient}) in the node's namespace; and
 * a timed pull of one model through some of the nodes at once ({@link #pull}), with the WAN bytes counted by the
 * registry and by the WAN veth. Not for what a test asserts about the mesh (the tests do that), nor for the network
 * itself ({@link Netns}).
 */
final class NetnsOffice {
  static final int PORT = 9200;
  static final Duration START_DEADLINE = Duration.ofSeconds(60);
  static final Duration PULL_DEADLINE = Duration.ofSeconds(150);

  final Netns net;
  final FakeRegistry registry;
  final Path work;
  final Path secret;
  final String meshName;
  final List<ProxyProcess> nodes = new ArrayList<>();
  final List<Integer> meshSizeAtJoin = new ArrayList<>();
  final List<ProxyProcess> clients = new ArrayList<>();

  /** What one timed pull measured. */
  record Phase(String name, FakeModel model, List<ClientRun> runs, long registryBlobBytes, long wanDown, long wanUp,
      Map<Integer, Long> nodeUpstreamBytes) {
    /** From the earliest client start to the last client end (of the clients that succeeded). */
    double seconds() {
      long start = runs.stream().filter(ClientRun::ok).mapToLong(ClientRun::startMillis).min().orElse(0);
      long end = runs.stream().filter(ClientRun::ok).mapToLong(ClientRun::endMillis).max().orElse(0);
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

  private NetnsOffice(Netns net, FakeRegistry registry, Path work, Path secret) {
    this.net = net;
    this.registry = registry;
    this.work = work;
    this.secret = secret;
    this.meshName = "pm-" + net.id;
  }

  /**
   * Builds the network for {@code nodeCount} nodes ({@link Netns#office}) and starts the fake registry on it; the
   * nodes are started with {@link #startNodes}. {@code work} holds the secret, caches, logs and pulled models.
   */
  static NetnsOffice build(Path work, int nodeCount, int wanMbit, int nodeUplinkMbit, String secret) throws IOException {
    Netns net = Netns.office(nodeCount, wanMbit, nodeUplinkMbit);
    try {
      FakeRegistry registry = FakeRegistry.builder().registryHost(Netns.UPSTREAM_ADDRESS).cdnHost(Netns.CDN_ADDRESS).start();
      return new NetnsOffice(net, registry, work, Files.writeString(work.resolve("mesh.secret"), secret + "\n"));
    } catch (IOException | RuntimeException e) {
      net.close();
      throw e;
    }
  }

  /**
   * Starts every node one after another (so each joins the mesh the ones before it formed, and reports its size in
   * {@link #meshSizeAtJoin}), then one long-running client per node in the node's namespace, as Ollama would run on
   * that machine.
   */
  void startNodesAndClients() throws IOException, InterruptedException {
    for (int i = 0; i < net.nodes.size(); i++) {
      ProxyProcess p = startNode(i, "node" + (i + 1));
      nodes.add(p);
      meshSizeAtJoin.add(awaitMeshSize(i, p));
    }
    for (int i = 0; i < net.nodes.size(); i++) {
      clients.add(launch(net.nodes.get(i), "client" + (i + 1), clientCommand(i), true));
    }
    for (ProxyProcess c : clients) {
      if (c.awaitStdout("ready 200"::equals, START_DEADLINE) == null) {
        fail("the client printed no 'ready 200' (its node's /healthz) within " + START_DEADLINE + "\n" + c.describe());
      }
    }
  }

  /** Every node index, 0-based. */
  List<Integer> allNodes() {
    return firstNodes(net.nodes.size());
  }

  /** Nodes 0 to n-1. */
  List<Integer> firstNodes(int n) {
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(i);
    }
    return out;
  }

  // ------------------------------------------------------------------ pulling

  /**
   * Pulls {@code model} through the given nodes (0-based), their clients told to start at the same moment; measures
   * the WAN from that moment until the last client has every byte.
   */
  Phase pull(String name, FakeModel model, List<Integer> through) throws Exception {
    Map<Integer, Long> nodeBefore = new LinkedHashMap<>();
    for (int i = 0; i < nodes.size(); i++) {
      nodeBefore.put(i, upstreamBlobBytes(i)); // before the counters: a scrape crosses the WAN link
    }
    long registryBefore = registry.stats().blobBytes();
    long downBefore = net.wanDownBytes();
    long upBefore = net.wanUpBytes();
    sendPull(name, model, through);
    List<ClientRun> runs = new ArrayList<>();
    for (int i : through) {
      runs.add(awaitPull(i, name, PULL_DEADLINE));
    }
    // the nodes may still be committing; their upstream traffic is over once the clients have every byte
    long registryBytes = registry.stats().blobBytes() - registryBefore;
    long down = net.wanDownBytes() - downBefore;
    long up = net.wanUpBytes() - upBefore;
    Map<Integer, Long> perNode = new LinkedHashMap<>();
    for (int i = 0; i < nodes.size(); i++) {
      perNode.put(i, upstreamBlobBytes(i) - nodeBefore.get(i)); // after the counters: a scrape crosses the WAN link
    }
    return new Phase(name, model, runs, registryBytes, down, up, perNode);
  }

  /** Tells the clients of the given nodes to pull {@code model}, each into its own directory {@code <name>-ollamaK}. */
  void sendPull(String name, FakeModel model, List<Integer> through) throws IOException {
    for (int i : through) {
      OutputStream in = clients.get(i).process.getOutputStream();
      in.write(("pull " + name + " " + model.reference() + " " + work.resolve(name + "-ollama" + (i + 1)) + "\n")
          .getBytes(StandardCharsets.UTF_8));
      in.flush();
    }
  }

  /** Node {@code i}'s client's result of pull {@code name}; fails the test if there is none by the deadline. */
  ClientRun awaitPull(int i, String name, Duration deadline) throws InterruptedException {
    ProxyProcess c = clients.get(i);
    String result = c.awaitStdout(l -> l.startsWith("result " + name + " "), deadline);
    if (result == null) {
      fail("node " + (i + 1) + "'s client did not finish '" + name + "' within " + deadline + "\n" + c.describe()
          + "\nnode:\n" + nodes.get(i).describe());
    }
    return parse(i, name, result, c);
  }

  static ClientRun parse(int node, String id, String result, ProxyProcess c) {
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
  static void assertPulledIntact(Phase p) {
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
  static void assertWanCountersAgree(Phase p) {
    assertTrue(p.wanDown() >= p.registryBlobBytes() && p.wanDown() <= p.registryBlobBytes() * 1.03 + (1 << 20),
        String.format("the WAN veth's tx bytes (%,d) match the registry's blob bytes (%,d) plus headers", p.wanDown(), p.registryBlobBytes()));
  }

  /** {@code pullmesh_upstream_bytes_total{kind="blob"}} of node {@code i}, -1 if it cannot be read. */
  long upstreamBlobBytes(int i) {
    return (long) metricSum(i, "pullmesh_upstream_bytes_total", "kind=\"blob\"");
  }

  /** {@code pullmesh_mesh_peers} of node {@code i}: the other nodes it sees; -1 if it cannot be read. */
  long meshPeers(int i) {
    return (long) metricSum(i, "pullmesh_mesh_peers", "");
  }

  /** The sum of node {@code i}'s samples of {@code metric} whose line contains {@code label}; -1 if unreadable. */
  static double metricSum(int i, String metric, String label) {
    try {
      RawResponse r = RawHttp.get("http://" + Netns.nodeAddress(i) + ":" + PORT + "/metrics");
      double sum = 0;
      for (String l : r.bodyText().split("\n")) {
        if ((l.startsWith(metric + "{") || l.startsWith(metric + " ")) && l.contains(label)) {
          sum += Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1));
        }
      }
      return sum;
    } catch (RuntimeException e) {
      return -1;
    }
  }

  /**
   * CPU seconds the nodes and clients (their processes and descendants) have used so far, from /proc (user + system
   * time, in clock ticks of 1/100 s): a pull that used about all the CPUs the machine has for its whole window was
   * bound by the CPU, not the network.
   */
  double cpuSeconds() {
    double ticks = 0;
    List<ProcessHandle> all = new ArrayList<>();
    for (ProxyProcess p : nodes) {
      all.add(p.process.toHandle());
      p.process.descendants().forEach(all::add);
    }
    for (ProxyProcess p : clients) {
      all.add(p.process.toHandle());
      p.process.descendants().forEach(all::add);
    }
    for (ProcessHandle h : all) {
      try {
        String stat = Files.readString(Path.of("/proc", Long.toString(h.pid()), "stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime: fields 14 and 15 of the whole line
      } catch (IOException | RuntimeException e) {
        // the process is gone
      }
    }
    return ticks / 100.0;
  }

  // ------------------------------------------------------------------ processes

  /**
   * {@code ip netns exec <namespace> command...}, stdout and stderr to {@code <work>/<label>.out|err}, no PULLMESH_*
   * variables inherited; stdin a pipe when {@code stdin}, else /dev/null.
   */
  ProxyProcess launch(String namespace, String label, List<String> command, boolean stdin) throws IOException {
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

  /**
   * Starts node {@code i} (0-based) in its namespace on its cache directory {@code <work>/cache-K}, logs under
   * {@code label}.
   */
  ProxyProcess startNode(int i, String label) throws IOException {
    String addr = Netns.nodeAddress(i);
    return launch(net.nodes.get(i), label, List.of(java(), "-Xmx256m", "-jar", jar().toString(),
        "--listen", addr + ":" + PORT, "--upstream", registry.registryUrl(), "--cache-dir", work.resolve("cache-" + (i + 1)).toString(),
        "--mesh-name", meshName, "--mesh-secret-file", secret.toString(), "--mesh-bind", addr), false);
  }

  /** The command of node {@code i}'s client ({@link NetnsPullClient}). */
  static List<String> clientCommand(int i) {
    return List.of(java(), "-Xmx256m", "-cp", testClasspath(), NetnsPullClient.class.getName(), "http://" + Netns.nodeAddress(i) + ":" + PORT);
  }

  /** Waits for node {@code i}'s startup lines; the mesh size its "pullmesh mesh NAME: node ID with N node(s)" line reports. */
  int awaitMeshSize(int i, ProxyProcess p) throws InterruptedException {
    Pattern meshLine = Pattern.compile("pullmesh mesh " + Pattern.quote(meshName) + ": node \\S+ with (\\d+) node\\(s\\)");
    String line = p.awaitStdout(l -> meshLine.matcher(l).find(), START_DEADLINE);
    if (line == null) {
      fail("node " + (i + 1) + " printed no 'pullmesh mesh " + meshName + ": node ... with N node(s)' line within " + START_DEADLINE
          + "\n" + p.describe());
    }
    String addr = Netns.nodeAddress(i);
    assertNotNull(p.awaitStdout(l -> l.contains("listening on http://" + addr + ":" + PORT), Duration.ofSeconds(5)), p.describe());
    Matcher m = meshLine.matcher(line);
    assertTrue(m.find());
    return Integer.parseInt(m.group(1));
  }

  /**
   * Stops the clients (killed) and the nodes (SIGTERM, so they leave the mesh as an operator's stop would; killed
   * after 10 s), keeps their logs in {@code logs}, closes the registry and the network. Problems are collected in
   * {@code problems}, so one failing step does not leave the rest undone.
   */
  void close(Path logs, List<Throwable> problems) {
    for (ProxyProcess p : clients) {
      quietly(problems, p::kill);
    }
    for (ProxyProcess p : nodes) {
      p.process.destroy();
    }
    for (ProxyProcess p : nodes) {
      quietly(problems, () -> {
        if (p.awaitExit(Duration.ofSeconds(10)) == -1) {
          p.kill();
        }
      });
    }
    quietly(problems, () -> keepLogs(logs));
    quietly(problems, registry::close);
    quietly(problems, net::close);
  }

  interface Step {
    void run() throws Exception;
  }

  static void quietly(List<Throwable> problems, Step s) {
    try {
      s.run();
    } catch (Throwable t) {
      problems.add(t);
    }
  }

  /** Copies each process's stdout and stderr to {@code logs}. */
  void keepLogs(Path logs) throws IOException {
    deleteTree(logs);
    Files.createDirectories(logs);
    try (var s = Files.list(work)) {
      for (Path p : s.filter(f -> f.getFileName().toString().endsWith(".out") || f.getFileName().toString().endsWith(".err")).toList()) {
        Files.copy(p, logs.resolve(p.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }

  static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /** The shaded jar failsafe names (proxy/pom.xml): this build's {@code target/pullmesh-proxy.jar}. */
  static Path jar() {
    String jar = System.getProperty("pullmesh.proxy.jar");
    assertNotNull(jar, "system property pullmesh.proxy.jar (set by failsafe in proxy/pom.xml) names the shaded jar");
    Path p = Path.of(jar);
    assertTrue(Files.isRegularFile(p), "the shaded jar exists (built in the package phase): " + p);
    return p;
  }

  /** This JVM's test classpath (failsafe puts it in surefire.test.class.path; java.class.path may be its booter jar). */
  static String testClasspath() {
    String cp = System.getProperty("surefire.test.class.path");
    return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
  }

  static void deleteTree(Path root) throws IOException {
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
