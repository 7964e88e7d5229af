package io.pullmesh.mesh;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import com.hazelcast.multimap.MultiMap;
import io.pullmesh.core.Digest;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.spi.cluster.hazelcast.ConfigUtil;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.logging.Logger;

/**
 * A node's membership in the LAN mesh and its view of the blob-location index, on Hazelcast through Vert.x's
 * cluster manager (never a home-made gossip protocol).
 *
 * <p><b>Membership.</b> Nodes find each other by multicast, or through a static member list where multicast is not
 * allowed. The Hazelcast cluster name is the mesh's name plus a hash of its shared secret, so a node configured
 * with another secret forms a cluster of its own and never sees this one's index. That is a guard against
 * misconfiguration, not authentication: Hazelcast's open-source edition cannot authenticate members, so the data
 * plane checks {@link PeerTokens} made from the secret on every peer request.
 *
 * <p><b>Index.</b> A Hazelcast multimap from blob digest to the nodes that hold it complete, and a map from node to the
 * URL its data plane serves on. When a member leaves (or dies), every node drops what it had announced, so a
 * lookup never names a node that is gone; lookups also filter by the current member list in the meantime.
 * Hazelcast calls block, so they run on Vert.x worker threads, never an event loop.
 */
public final class Mesh implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(Mesh.class.getName());
  static final String BLOBS = "pullmesh.blobs";
  static final String NODES = "pullmesh.nodes";
  static final String SIZES = "pullmesh.sizes";
  static final String FETCHING = "pullmesh.fetching";
  static final String PROGRESS = "pullmesh.progress";
  static final String PIECES = "pullmesh.pieces";

  /** A peer that holds a blob: its node id and the base URL of its data plane. */
  public record Peer(String node, String url) {}

  /**
   * How to join.
   *
   * @param name the mesh's name (nodes with another name form another mesh)
   * @param secret the shared secret, at least 16 characters
   * @param bindHost the address the cluster engine listens on (and announces)
   * @param port the first port to try (the engine takes the next free one after it)
   * @param members {@code host[:port]} of other nodes; empty to discover them by multicast
   * @param dataUrl the base URL this node's peer data plane serves blobs on
   */
  public record Settings(String name, String secret, String bindHost, int port, List<String> members, String dataUrl) {
    public Settings {
      Objects.requireNonNull(name, "name");
      PeerTokens.requireSecret(secret);
      members = List.copyOf(members);
    }
  }

  private final Vertx vertx;
  private final HazelcastInstance hz;
  private final String node;
  private final MultiMap<String, String> blobs;
  private final IMap<String, String> nodes;
  /** digest → size in bytes, of blobs some node holds complete. */
  private final IMap<String, Long> sizes;
  /** digest → the node fetching it from upstream now (mesh-wide single-flight). */
  private final IMap<String, String> fetching;
  /** "digest node" → the pieces that node has of a blob it is fetching ({@link Progress#encode()}). */
  private final IMap<String, byte[]> progress;
  /** digest → its per-piece SHA-256 list ({@link io.pullmesh.fetch.PeerNetwork.PieceHashes#encode()}). */
  private final IMap<String, byte[]> pieces;

  private Mesh(Vertx vertx, HazelcastClusterManager manager) {
    this.vertx = vertx;
    this.hz = manager.getHazelcastInstance();
    this.node = hz.getCluster().getLocalMember().getUuid().toString();
    this.blobs = hz.getMultiMap(BLOBS);
    this.nodes = hz.getMap(NODES);
    this.sizes = hz.getMap(SIZES);
    this.fetching = hz.getMap(FETCHING);
    this.progress = hz.getMap(PROGRESS);
    this.pieces = hz.getMap(PIECES);
  }

  /** The Hazelcast configuration for these settings: Vert.x's defaults, then this mesh's name, network and join. */
  static Config config(Settings s) {
    Config c = ConfigUtil.loadConfig();
    c.setClusterName(s.name() + "-" + secretTag(s.secret()));
    c.setProperty("hazelcast.wait.seconds.before.join", "0");
    c.setProperty("hazelcast.phone.home.enabled", "false");
    // a LAN: notice a node that died without leaving within seconds, not Hazelcast's default minute
    c.setProperty("hazelcast.heartbeat.interval.seconds", "1");
    c.setProperty("hazelcast.max.no.heartbeat.seconds", "15");
    c.setProperty("hazelcast.logging.type", "jdk");
    c.setProperty("hazelcast.socket.bind.any", "false");
    NetworkConfig n = c.getNetworkConfig();
    n.setPort(s.port()).setPortAutoIncrement(true);
    n.getInterfaces().setEnabled(true).setInterfaces(List.of(s.bindHost()));
    n.setPublicAddress(null);
    JoinConfig j = n.getJoin();
    j.getAutoDetectionConfig().setEnabled(false);
    if (s.members().isEmpty()) {
      j.getTcpIpConfig().setEnabled(false);
      j.getMulticastConfig().setEnabled(true);
    } else {
      j.getMulticastConfig().setEnabled(false);
      j.getTcpIpConfig().setEnabled(true).setMembers(s.members());
    }
    return c;
  }

  /** The first 16 hex digits of SHA-256("pullmesh mesh" + secret): names the cluster without revealing the secret. */
  static String secretTag(String secret) {
    try {
      byte[] h = MessageDigest.getInstance("SHA-256").digest(("pullmesh mesh\0" + secret).getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(h, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Starts a clustered Vert.x for this node, joins the mesh and registers the node's data-plane URL. */
  public static Future<Mesh> join(Settings s) {
    HazelcastClusterManager manager = new HazelcastClusterManager(config(s));
    return Vertx.builder().withClusterManager(manager).buildClustered().compose(vertx -> {
      Mesh mesh = new Mesh(vertx, manager);
      return vertx.executeBlocking(() -> {
        mesh.hz.getCluster().addMembershipListener(mesh.new Departures());
        mesh.nodes.set(mesh.node, s.dataUrl());
        LOG.info(() -> "joined mesh " + s.name() + " as " + mesh.node + " (" + mesh.hz.getCluster().getMembers().size() + " node(s))");
        return mesh;
      }, false).recover(t -> vertx.close().transform(v -> Future.failedFuture(t)));
    });
  }

  /** Drops what a departed node announced; every node does it (idempotent), so it happens while any node lives. */
  private final class Departures implements MembershipListener {
    @Override
    public void memberAdded(MembershipEvent e) {}

    @Override
    public void memberRemoved(MembershipEvent e) {
      String gone = e.getMember().getUuid().toString();
      try {
        nodes.remove(gone);
        for (String d : blobs.keySet()) {
          blobs.remove(d, gone);
        }
        for (String d : fetching.keySet()) {
          fetching.remove(d, gone);
        }
        for (String k : progress.keySet()) {
          if (k.endsWith(" " + gone)) {
            progress.remove(k);
          }
        }
      } catch (RuntimeException ex) {
        LOG.fine(() -> "cleaning up after " + gone + ": " + ex);
      }
    }
  }

  public String node() {
    return node;
  }

  /** The nodes in the mesh now, this one included. */
  public Set<String> members() {
    Set<String> out = new HashSet<>();
    for (Member m : hz.getCluster().getMembers()) {
      out.add(m.getUuid().toString());
    }
    return out;
  }

  /** Tells the mesh this node holds {@code digest} complete and verified. */
  public Future<Void> announce(Digest digest, long size) {
    return vertx.executeBlocking(() -> {
      announceNow(digest, size);
      return null;
    }, false);
  }

  /** As {@link #announce}, blocking (on a worker thread). */
  public void announceNow(Digest digest, long size) {
    sizes.set(digest.toString(), size);
    blobs.put(digest.toString(), node);
  }

  /** Tells the mesh this node no longer holds {@code digest} (evicted). */
  public Future<Void> withdraw(Digest digest) {
    return vertx.executeBlocking(() -> {
      blobs.remove(digest.toString(), node);
      return null;
    }, false);
  }

  /** The other live nodes that hold {@code digest}, with their data-plane URLs. */
  public Future<List<Peer>> holders(Digest digest) {
    return vertx.executeBlocking(() -> {
      Set<String> live = members();
      List<Peer> out = new ArrayList<>();
      for (String n : blobs.get(digest.toString())) {
        if (!n.equals(node) && live.contains(n)) {
          String url = nodes.get(n);
          if (url != null) {
            out.add(new Peer(n, url));
          }
        }
      }
      return out;
    }, false);
  }

  // ---------------------------------------------------------------- blocking operations for MeshPeers (worker threads)

  /** What the mesh knows about {@code digest}, leaving out this node and {@code skip}. Blocking. */
  io.pullmesh.fetch.PeerNetwork.View viewNow(Digest digest, Set<String> skip) {
    String d = digest.toString();
    // the fetcher first: a fetcher that commits announces itself complete, then gives up its claim, then drops its
    // progress (MeshPeers.committed); read in the other order, a view could see it in none of the three, and its
    // peers would claim the blob and fetch the rest from upstream again
    String f = fetching.get(d);
    Set<String> live = members();
    List<io.pullmesh.fetch.PeerNetwork.Holder> holders = new ArrayList<>();
    Set<String> complete = new HashSet<>();
    for (String n : blobs.get(d)) {
      if (!n.equals(node) && live.contains(n) && !skip.contains(n) && complete.add(n)) {
        holders.add(new io.pullmesh.fetch.PeerNetwork.Holder(n, 0, null));
      }
    }
    Long size = sizes.get(d);
    long known = size == null ? -1 : size;
    Set<String> keys = new HashSet<>();
    for (String n : live) {
      if (!n.equals(node) && !skip.contains(n) && !complete.contains(n)) {
        keys.add(d + " " + n);
      }
    }
    if (!keys.isEmpty()) {
      for (var e : progress.getAll(keys).entrySet()) {
        Progress pr = Progress.decode(e.getValue());
        if (known < 0) {
          known = pr.size();
        }
        if (pr.size() == known) {
          holders.add(new io.pullmesh.fetch.PeerNetwork.Holder(e.getKey().substring(e.getKey().indexOf(' ') + 1), pr.pieceSize(), pr.done()));
        }
      }
    }
    if (f != null && !live.contains(f)) {
      fetching.remove(d, f);
      f = null;
    }
    if (f != null && skip.contains(f)) {
      f = null; // a fetcher this node gave up on (dead but not yet noticed by the cluster, or failing): as good as none
    }
    byte[] h = pieces.get(d);
    io.pullmesh.fetch.PeerNetwork.PieceHashes hashes = null;
    if (h != null) {
      try {
        hashes = io.pullmesh.fetch.PeerNetwork.PieceHashes.decode(h);
      } catch (RuntimeException e) {
        LOG.warning(() -> "ignoring an unreadable piece-hash list for " + d + ": " + e);
      }
    }
    return new io.pullmesh.fetch.PeerNetwork.View(known, holders, f, hashes);
  }

  /**
   * Claims the upstream fetch of {@code digest}; returns the node that holds the claim. A claim held by a node that
   * left, or by one in {@code skip} (this node gave up on it: a process killed outright stays a member until the
   * cluster misses its heartbeats), is taken over. Blocking.
   */
  String claimNow(Digest digest, Set<String> skip) {
    String d = digest.toString();
    for (int i = 0; i < 8; i++) {
      String had = fetching.putIfAbsent(d, node);
      if (had == null || had.equals(node)) {
        return node;
      }
      if (members().contains(had) && !skip.contains(had)) {
        return had;
      }
      if (fetching.replace(d, had, node)) {
        LOG.info(() -> "took over the upstream fetch of " + d + " from " + had);
        return node;
      }
    }
    return fetching.getOrDefault(d, node);
  }

  void releaseNow(Digest digest) {
    fetching.remove(digest.toString(), node);
  }

  void progressNow(Digest digest, Progress p) {
    progress.set(digest + " " + node, p.encode());
  }

  void dropProgressNow(Digest digest) {
    progress.delete(digest + " " + node);
  }

  void piecesNow(Digest digest, io.pullmesh.fetch.PeerNetwork.PieceHashes h) {
    pieces.putIfAbsent(digest.toString(), h.encode());
  }

  /** The other live nodes and their data-plane URLs. Blocking. */
  List<Peer> peersNow() {
    List<Peer> out = new ArrayList<>();
    for (String n : members()) {
      if (!n.equals(node)) {
        String url = nodes.get(n);
        if (url != null) {
          out.add(new Peer(n, url));
        }
      }
    }
    return out;
  }

  /** The data-plane URL of {@code peer}, or null when it is not (or no longer) in the mesh. Blocking. */
  String urlOf(String peer) {
    return nodes.get(peer);
  }

  /** A node's pieces of a blob it is fetching, as published in the index. */
  record Progress(long size, int pieceSize, java.util.BitSet done) {
    byte[] encode() {
      byte[] bits = done.toByteArray();
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(12 + bits.length);
      b.putLong(size).putInt(pieceSize).put(bits);
      return b.array();
    }

    static Progress decode(byte[] bytes) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes);
      long size = b.getLong();
      int pieceSize = b.getInt();
      return new Progress(size, pieceSize, java.util.BitSet.valueOf(b));
    }
  }

  /** Leaves the mesh: the others drop this node's announcements. */
  @Override
  public void close() {
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(30, java.util.concurrent.TimeUnit.SECONDS);
    } catch (Exception e) {
      LOG.warning(() -> "leaving the mesh: " + e);
    }
  }
}
