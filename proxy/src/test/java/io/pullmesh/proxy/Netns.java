package io.pullmesh.proxy;

import io.pullmesh.testkit.tools.ProcessResult;
import io.pullmesh.testkit.tools.Tools;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * An office network on one Linux machine, made of network namespaces, for tests that need several hosts: the
 * "internet" is the root namespace (the test JVM, e.g. a fake registry), reached over one WAN link shaped with
 * {@code tc}; behind it a gateway namespace routes for a LAN bridge with N node namespaces on it.
 *
 * <pre>
 *  root namespace (the internet)           pm-gw-ID (office gateway, ip_forward)        pm-nK-ID (node K)
 *  pmw-ID 10.201.0.1/29 + 10.201.0.3  ====  wan 10.201.0.2/29                             eth0 10.202.0.1K/24
 *         tbf WAN_MBIT (down)                   tbf WAN_MBIT (up)                              default via 10.202.0.1
 *  route 10.202.0.0/24 via 10.201.0.2       br0 10.202.0.1/24 (multicast snooping off) --- 224.0.0.0/4 dev eth0
 *                                           lanK (one veth per node, in br0), unshaped
 * </pre>
 *
 * <p>Names carry a per-run ID (4 hex digits), so a crashed run never blocks the next: {@link #removeStale()} deletes
 * every namespace and link of this naming whose owning JVM (recorded in {@value #OWNERS}) is gone, and kills
 * the processes left in them. Nothing else on the machine is touched: every command names an interface or
 * namespace created here. The addresses are fixed (one run at a time per machine); {@link #office} refuses to
 * start when they are in use. Needs root, {@code ip} and {@code tc} (iproute2), and a kernel with veth, bridge
 * and the tbf qdisc.
 */
final class Netns implements AutoCloseable {
  /** The "internet" side of the WAN link, in the root namespace: the registry's address. */
  static final String UPSTREAM_ADDRESS = "10.201.0.1";
  /** A second root-namespace address on the WAN link, for a CDN with another host name than the registry's. */
  static final String CDN_ADDRESS = "10.201.0.3";
  static final String GATEWAY_WAN_ADDRESS = "10.201.0.2";
  static final String GATEWAY_LAN_ADDRESS = "10.202.0.1";
  static final String LAN = "10.202.0.0/24";
  static final String OWNERS = "/run/pullmesh-netns";

  private static final Duration TIMEOUT = Duration.ofSeconds(20);
  private static final Pattern NAMESPACE = Pattern.compile("pm-(?:gw|n\\d+)-([0-9a-f]{4})");
  private static final Pattern WAN_LINK = Pattern.compile("\\d+: (pmw-([0-9a-f]{4}))[@:]");

  final String id;
  final String gateway;
  final List<String> nodes;
  /** The root namespace's end of the WAN veth. */
  final String wanLink;
  final int wanMbit;
  /** Each node's uplink (its eth0's egress), Mbit/s; 0 when unshaped. */
  final int nodeUplinkMbit;
  private final List<String> created = new ArrayList<>();

  private Netns(String id, int nodeCount, int wanMbit, int nodeUplinkMbit) {
    this.id = id;
    this.gateway = "pm-gw-" + id;
    List<String> n = new ArrayList<>();
    for (int i = 1; i <= nodeCount; i++) {
      n.add("pm-n" + i + "-" + id);
    }
    this.nodes = List.copyOf(n);
    this.wanLink = "pmw-" + id;
    this.wanMbit = wanMbit;
    this.nodeUplinkMbit = nodeUplinkMbit;
  }

  // ------------------------------------------------------------------ can this machine do it?

  /**
   * Why this machine cannot build the test network (not root, no {@code ip}/{@code tc}, no namespaces), or null when
   * it can. With {@code -Dpullmesh.require.tools=true} (CI) a reason fails the calling test instead of being returned,
   * for the caller to skip with ({@link Assumptions#abort}).
   */
  static String skipReason() {
    String why = unusableReason();
    if (why != null && Boolean.getBoolean(Tools.REQUIRE_PROPERTY)) {
      Assertions.fail(why + " (-D" + Tools.REQUIRE_PROPERTY + "=true: not skipped)");
    }
    return why;
  }

  /** Why network namespaces cannot be used here, or null when they can. */
  static String unusableReason() {
    if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
      return "network namespaces need Linux";
    }
    for (String tool : List.of("ip", "tc")) {
      if (Tools.which(tool).isEmpty()) {
        return tool + " (iproute2) is not on the PATH: apt-get install iproute2";
      }
    }
    ProcessResult uid = Tools.run(TIMEOUT, "id", "-u");
    if (uid.exitCode() != 0 || !uid.stdout().strip().equals("0")) {
      return "needs root to create network namespaces (uid " + uid.stdout().strip() + ")";
    }
    String probe = "pm-probe-" + ProcessHandle.current().pid();
    ProcessResult add = Tools.run(TIMEOUT, "ip", "netns", "add", probe);
    if (add.exitCode() != 0) {
      return "`ip netns add` is not usable here: " + add.stderr().strip();
    }
    try {
      ProcessResult veth = Tools.run(TIMEOUT, "ip", "-n", probe, "link", "add", "name", "probe0", "type", "veth", "peer", "name", "probe1");
      if (veth.exitCode() != 0) {
        return "cannot create a veth pair in a namespace: " + veth.stderr().strip();
      }
      ProcessResult tbf = Tools.run(TIMEOUT, "tc", "-n", probe, "qdisc", "add", "dev", "probe0", "root", "tbf", "rate", "100mbit",
          "burst", "256kb", "latency", "50ms");
      if (tbf.exitCode() != 0) {
        return "the tbf qdisc is not usable (kernel without CONFIG_NET_SCH_TBF?): " + tbf.stderr().strip();
      }
      ProcessResult br = Tools.run(TIMEOUT, "ip", "-n", probe, "link", "add", "br0", "type", "bridge");
      if (br.exitCode() != 0) {
        return "cannot create a bridge: " + br.stderr().strip();
      }
      return null;
    } finally {
      Tools.run(TIMEOUT, "ip", "netns", "del", probe);
    }
  }

  // ------------------------------------------------------------------ building and tearing down

  /**
   * Builds the office: {@code nodeCount} node namespaces on the gateway's bridge, the WAN link shaped to
   * {@code wanMbit} Mbit/s each way. On any failure what was made so far is removed again.
   */
  static Netns office(int nodeCount, int wanMbit) throws IOException {
    return office(nodeCount, wanMbit, 0);
  }

  /**
   * As {@link #office(int, int)}, and each node's uplink (what it sends into the LAN: to peers, and its upstream
   * requests) shaped to {@code nodeUplinkMbit} Mbit/s, as a host's NIC or switch port would be; 0 leaves it unshaped.
   * A node's own client talks to it over the namespace's loopback, never through this link.
   */
  static Netns office(int nodeCount, int wanMbit, int nodeUplinkMbit) throws IOException {
    if (nodeCount < 1 || nodeCount > 200) {
      throw new IllegalArgumentException("1 to 200 nodes, got " + nodeCount);
    }
    String inUse = addressesInUse();
    if (inUse != null) {
      throw new IllegalStateException("cannot build the test network: " + inUse
          + " (another run of a network-namespace test, or a real network using these addresses)");
    }
    String id = String.format("%04x", ThreadLocalRandom.current().nextInt(0x10000));
    Netns n = new Netns(id, nodeCount, wanMbit, nodeUplinkMbit);
    Files.createDirectories(Path.of(OWNERS));
    Files.writeString(Path.of(OWNERS, id), Long.toString(ProcessHandle.current().pid()) + "\n", StandardCharsets.UTF_8);
    try {
      n.build();
    } catch (RuntimeException e) {
      n.close();
      throw e;
    }
    return n;
  }

  private void build() {
    String gw = gateway;
    addNamespace(gw);
    ip("link", "set", "lo", "up", "netns:" + gw);
    ip("link", "add", wanLink, "type", "veth", "peer", "name", "wan", "netns", gw);
    ip("addr", "add", UPSTREAM_ADDRESS + "/29", "dev", wanLink);
    ip("addr", "add", CDN_ADDRESS + "/29", "dev", wanLink);
    ip("link", "set", wanLink, "up");
    ip("addr", "add", GATEWAY_WAN_ADDRESS + "/29", "dev", "wan", "netns:" + gw);
    ip("link", "set", "wan", "up", "netns:" + gw);
    // Multicast snooping off: the bridge floods Hazelcast's discovery datagrams to every port even though no
    // IGMP querier runs on this LAN (with snooping on, group membership would depend on IGMP timing).
    ip("link", "add", "br0", "type", "bridge", "mcast_snooping", "0", "netns:" + gw);
    ip("addr", "add", GATEWAY_LAN_ADDRESS + "/24", "dev", "br0", "netns:" + gw);
    ip("link", "set", "br0", "up", "netns:" + gw);
    run(List.of("ip", "netns", "exec", gw, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"));
    for (int i = 0; i < nodes.size(); i++) {
      String ns = nodes.get(i);
      String lan = "lan" + (i + 1);
      addNamespace(ns);
      ip("link", "set", "lo", "up", "netns:" + ns);
      ip("link", "add", lan, "type", "veth", "peer", "name", "eth0", "netns", ns, "netns:" + gw);
      ip("link", "set", lan, "master", "br0", "up", "netns:" + gw);
      ip("addr", "add", nodeAddress(i) + "/24", "dev", "eth0", "netns:" + ns);
      ip("link", "set", "eth0", "up", "netns:" + ns);
      ip("route", "add", "default", "via", GATEWAY_LAN_ADDRESS, "netns:" + ns);
      // Hazelcast's multicast discovery (224.2.2.3) leaves by the LAN interface, never by way of the gateway
      ip("route", "add", "224.0.0.0/4", "dev", "eth0", "netns:" + ns);
      if (nodeUplinkMbit > 0) {
        run(List.of("tc", "-n", ns, "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", nodeUplinkMbit + "mbit", "burst", "256kb",
            "latency", "50ms"));
      }
    }
    // the registry's answers to the nodes go back over the WAN link (no NAT on the gateway)
    ip("route", "add", LAN, "via", GATEWAY_WAN_ADDRESS, "dev", wanLink);
    String rate = wanMbit + "mbit";
    run(List.of("tc", "qdisc", "add", "dev", wanLink, "root", "tbf", "rate", rate, "burst", "256kb", "latency", "50ms"));
    run(List.of("tc", "-n", gw, "qdisc", "add", "dev", "wan", "root", "tbf", "rate", rate, "burst", "256kb", "latency", "50ms"));
  }

  private void addNamespace(String ns) {
    run(List.of("ip", "netns", "add", ns));
    created.add(ns);
  }

  /** The LAN address of node {@code i} (0-based): 10.202.0.11, .12, ... */
  static String nodeAddress(int i) {
    return "10.202.0." + (11 + i);
  }

  /** {@code ip netns exec <namespace> command...}. */
  static List<String> exec(String namespace, List<String> command) {
    List<String> out = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
    out.addAll(command);
    return out;
  }

  /** Bytes the root namespace sent into the WAN link (the office's downloads, plus headers), from the veth's counters. */
  long wanDownBytes() {
    return counter("tx_bytes");
  }

  /** Bytes the root namespace received from the WAN link (the office's requests and uploads). */
  long wanUpBytes() {
    return counter("rx_bytes");
  }

  private long counter(String name) {
    try {
      return Long.parseLong(Files.readString(Path.of("/sys/class/net", wanLink, "statistics", name)).strip());
    } catch (IOException e) {
      throw new IllegalStateException("reading the counters of " + wanLink + ": " + e, e);
    }
  }

  /** The qdiscs of both ends of the WAN link, as tc prints them with statistics (for a report). */
  String describeShaping() {
    return "root " + wanLink + ": " + Tools.run(TIMEOUT, "tc", "-s", "qdisc", "show", "dev", wanLink).stdout().strip()
        + "\n" + gateway + " wan: " + Tools.run(TIMEOUT, "tc", "-n", gateway, "-s", "qdisc", "show", "dev", "wan").stdout().strip()
        + (nodeUplinkMbit > 0 ? "\neach node's eth0: tbf " + nodeUplinkMbit + "mbit" : "");
  }

  /** Kills what still runs in the namespaces, deletes them (their veths go with them) and the WAN link. */
  @Override
  public void close() {
    List<String> problems = new ArrayList<>();
    List<String> all = new ArrayList<>(created);
    java.util.Collections.reverse(all);
    for (String ns : all) {
      killProcessesIn(ns);
      ProcessResult r = Tools.run(TIMEOUT, "ip", "netns", "del", ns);
      if (r.exitCode() != 0) {
        problems.add("ip netns del " + ns + ": " + r.stderr().strip());
      }
    }
    if (linkExists(wanLink)) {
      ProcessResult r = Tools.run(TIMEOUT, "ip", "link", "del", wanLink);
      if (r.exitCode() != 0) {
        problems.add("ip link del " + wanLink + ": " + r.stderr().strip());
      }
    }
    try {
      Files.deleteIfExists(Path.of(OWNERS, id));
    } catch (IOException e) {
      problems.add(e.toString());
    }
    if (!problems.isEmpty()) {
      throw new IllegalStateException("tearing down the test network " + id + ": " + String.join("; ", problems));
    }
  }

  /**
   * Removes what earlier runs left behind (a JVM killed before its {@link #close()}): namespaces named
   * {@code pm-gw-ID} / {@code pm-nK-ID} and root links {@code pmw-ID} whose owning JVM is no longer alive, with the
   * processes still running in those namespaces. Returns what was removed.
   */
  static List<String> removeStale() {
    List<String> removed = new ArrayList<>();
    ProcessResult list = Tools.run(TIMEOUT, "ip", "netns", "list");
    for (String line : list.stdout().split("\n")) {
      String ns = line.strip().split("\\s+")[0];
      Matcher m = NAMESPACE.matcher(ns);
      if (m.matches() && !ownerAlive(m.group(1))) {
        killProcessesIn(ns);
        if (Tools.run(TIMEOUT, "ip", "netns", "del", ns).exitCode() == 0) {
          removed.add("namespace " + ns);
        }
      }
    }
    Matcher m = WAN_LINK.matcher(Tools.run(TIMEOUT, "ip", "-o", "link", "show").stdout());
    while (m.find()) {
      if (!ownerAlive(m.group(2)) && Tools.run(TIMEOUT, "ip", "link", "del", m.group(1)).exitCode() == 0) {
        removed.add("link " + m.group(1));
      }
    }
    try (var owners = Files.list(Path.of(OWNERS))) {
      for (Path p : owners.toList()) {
        if (!ownerAlive(p.getFileName().toString())) {
          Files.deleteIfExists(p);
        }
      }
    } catch (IOException e) {
      // no owner files yet
    }
    return removed;
  }

  private static boolean ownerAlive(String id) {
    try {
      long pid = Long.parseLong(Files.readString(Path.of(OWNERS, id)).strip());
      return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    } catch (IOException | NumberFormatException e) {
      return false;
    }
  }

  /** Kills, by pid, every process running in the namespace (all of them started by a test in it). */
  private static void killProcessesIn(String ns) {
    ProcessResult pids = Tools.run(TIMEOUT, "ip", "netns", "pids", ns);
    List<ProcessHandle> victims = new ArrayList<>();
    for (String s : pids.stdout().split("\\s+")) {
      if (!s.isBlank()) {
        ProcessHandle.of(Long.parseLong(s.strip())).ifPresent(victims::add);
      }
    }
    for (ProcessHandle h : victims) {
      h.destroyForcibly();
    }
    for (ProcessHandle h : victims) {
      try {
        h.onExit().get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        // gone or unkillable: ip netns del still unmounts the name
      }
    }
  }

  private static boolean linkExists(String name) {
    return Files.exists(Path.of("/sys/class/net", name));
  }

  /** Null if this test's fixed addresses are free in the root namespace, else which one is taken. */
  private static String addressesInUse() {
    String addrs = Tools.run(TIMEOUT, "ip", "-o", "-4", "addr", "show").stdout();
    for (String a : List.of(UPSTREAM_ADDRESS, CDN_ADDRESS, GATEWAY_WAN_ADDRESS)) {
      if (addrs.contains(" " + a + "/")) {
        return a + " is already assigned in the root namespace";
      }
    }
    String routes = Tools.run(TIMEOUT, "ip", "-4", "route", "show", LAN).stdout();
    if (!routes.isBlank()) {
      return "the root namespace already routes " + LAN + ": " + routes.strip();
    }
    return null;
  }

  /**
   * {@code ip args...}; an argument {@code netns:NAME} (anywhere) runs it as {@code ip -n NAME ...} instead.
   */
  private static void ip(String... args) {
    List<String> cmd = new ArrayList<>(List.of("ip"));
    List<String> rest = new ArrayList<>();
    for (String a : args) {
      if (a.startsWith("netns:")) {
        cmd.add("-n");
        cmd.add(a.substring("netns:".length()));
      } else {
        rest.add(a);
      }
    }
    cmd.addAll(rest);
    run(cmd);
  }

  private static void run(List<String> cmd) {
    ProcessResult r = Tools.run(TIMEOUT, cmd);
    if (r.exitCode() != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + " failed (exit " + r.exitCode() + "): " + r.stderr().strip());
    }
  }
}
