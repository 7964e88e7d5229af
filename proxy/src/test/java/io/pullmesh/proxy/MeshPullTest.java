package io.pullmesh.proxy;

import static io.pullmesh.testkit.Waits.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Digest;
import io.pullmesh.metrics.MeterNames;
import io.pullmesh.testkit.Waits;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pulls through a mesh of real proxies in one JVM: real Hazelcast members on 127.0.0.1 (TCP member list), real HTTP
 * between the nodes' data planes, a fake registry.ollama.ai upstream whose CDN is throttled so that pulls overlap.
 */
class MeshPullTest {
  static final String SECRET = "office-secret-0123456789";
  @TempDir Path dir;
  private final List<AutoCloseable> open = new ArrayList<>();
  /** The member list of the last {@link #mesh} started. */
  private String memberList;

  @AfterEach
  void closeAll() {
    for (int i = open.size() - 1; i >= 0; i--) {
      try {
        open.get(i).close();
      } catch (Exception e) {
        // best effort
      }
    }
  }

  static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      return s.getLocalPort();
    }
  }

  /** Starts {@code n} proxies in one mesh in front of {@code upstream}. */
  List<PullmeshProxy> mesh(FakeRegistry upstream, int n, int connections) throws Exception {
    return mesh(upstream, n, connections, new int[0]);
  }

  /** As above, with {@code extra} cluster ports in the member list (for other members the test starts itself). */
  List<PullmeshProxy> mesh(FakeRegistry upstream, int n, int connections, int[] extra) throws Exception {
    return mesh(upstream, n, connections, extra, new String[0]);
  }

  /** As above, every node with {@code proxyArgs} too. */
  List<PullmeshProxy> mesh(FakeRegistry upstream, int n, int connections, int[] extra, String... proxyArgs) throws Exception {
    Path secret = dir.resolve("mesh.secret");
    Files.writeString(secret, SECRET + "\n");
    int[] ports = new int[n];
    StringBuilder members = new StringBuilder();
    for (int i = 0; i < n; i++) {
      ports[i] = freePort();
      members.append(i == 0 ? "" : ",").append("127.0.0.1:").append(ports[i]);
    }
    for (int port : extra) {
      members.append(",127.0.0.1:").append(port);
    }
    memberList = members.toString();
    List<PullmeshProxy> nodes = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      List<String> args = new ArrayList<>(List.of("--mesh-name", "office", "--mesh-secret-file", secret.toString(),
          "--mesh-port", Integer.toString(ports[i]), "--mesh-members", members.toString()));
      args.addAll(List.of(proxyArgs));
      PullmeshProxy p = PullmeshProxy.start(Harness.config(upstream.registryUrl(), dir.resolve("node" + i), args.toArray(String[]::new)),
          Harness.testFetchConfig(connections), Clock.systemUTC());
      open.add(p);
      nodes.add(p);
    }
    Waits.awaitTrue(() -> nodes.stream().allMatch(p -> p.mesh().members().size() >= n), n + " nodes in the mesh");
    return nodes;
  }

  /** Waits until {@code node} sees the piece-hash list of {@code d} in the mesh (published just after a commit). */
  static void awaitPieceHashes(PullmeshProxy node, Digest d) throws InterruptedException {
    Waits.awaitTrue(() -> {
      try {
        return await(node.peers().view(d)).hashes() != null;
      } catch (Exception e) {
        return false;
      }
    }, "the piece hashes of " + d.shortHex() + " are published");
  }

  /**
   * Test double for a broken or malicious node: it joined the mesh with the right secret (a real Hazelcast member)
   * and claims to hold blobs, but its data plane answers every range with the right length and one byte flipped.
   * It checks no token.
   */
  static final class LyingPeer implements AutoCloseable {
    final io.pullmesh.mesh.Mesh mesh;
    final io.vertx.core.http.HttpServer server;
    final java.util.concurrent.atomic.AtomicLong ranges = new java.util.concurrent.atomic.AtomicLong();

    LyingPeer(int clusterPort, String members, java.util.Map<Digest, Path> files) throws Exception {
      io.vertx.core.Vertx v = io.vertx.core.Vertx.vertx();
      server = await(v.createHttpServer().requestHandler(req -> {
        Digest d = Digest.parse(req.path().substring(io.pullmesh.mesh.MeshPeers.BLOBS.length()));
        try {
          byte[] all = Files.readAllBytes(files.get(d));
          io.pullmesh.core.ByteRange r = ((io.pullmesh.core.RangeHeader.Partial) io.pullmesh.core.RangeHeader.evaluate(req.getHeader("Range"), all.length))
              .ranges().get(0);
          byte[] body = java.util.Arrays.copyOfRange(all, (int) r.first(), (int) r.last() + 1);
          body[body.length / 2] ^= 0x5a;
          ranges.incrementAndGet();
          req.response().setStatusCode(206).putHeader("Content-Range", r.contentRange(all.length)).end(io.vertx.core.buffer.Buffer.buffer(body));
        } catch (Exception e) {
          req.response().setStatusCode(500).end();
        }
      }).listen(0, "127.0.0.1"));
      mesh = await(io.pullmesh.mesh.Mesh.join(new io.pullmesh.mesh.Mesh.Settings("office", SECRET, "127.0.0.1", clusterPort,
          List.of(members.split(",")), "http://127.0.0.1:" + server.actualPort())));
      for (var e : files.entrySet()) {
        await(mesh.announce(e.getKey(), Files.size(e.getValue())));
      }
      vertx = v;
    }

    private final io.vertx.core.Vertx vertx;

    @Override
    public void close() {
      mesh.close();
      vertx.close();
    }
  }

  @Test
  void aPeerServingCorruptPiecesIsCaughtPenalisedAndNeverCorruptsACommit() throws Exception {
    FakeModel model = ModelFixture.of("library/honest", "3b").layer("application/vnd.ollama.image.model", 12L << 20)
        .seed(11).create(dir.resolve("model"));
    FakeBlob layer = model.largestLayer();
    FakeRegistry upstream = FakeRegistry.start(model);
    open.add(upstream);
    int liarPort = freePort();
    List<PullmeshProxy> nodes = mesh(upstream, 2, 4, new int[] {liarPort});
    PullmeshProxy a = nodes.get(0);
    PullmeshProxy b = nodes.get(1);
    OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build());
    open.add(client);
    client.pull(a.url(), model.reference(), dir.resolve("ollama-a"));
    Waits.awaitTrue(() -> a.store().lookup(layer.digest()).isPresent(), "a committed the layer");

    LyingPeer liar = new LyingPeer(liarPort, memberList, java.util.Map.of(layer.digest(), layer.file()));
    open.add(liar);
    Waits.awaitTrue(() -> b.mesh().members().size() == 3, "the liar joined");
    awaitPieceHashes(b, layer.digest());
    long upstreamBefore = upstream.stats().blobBytes();

    client.pull(b.url(), model.reference(), dir.resolve("ollama-b"));

    assertSameBlobs(model, dir.resolve("ollama-b"));
    assertArrayEquals(Files.readAllBytes(layer.file()), Files.readAllBytes(b.store().blobPath(layer.digest())), "b committed the true bytes");
    assertTrue(liar.ranges.get() > 0, "b asked the liar for pieces");
    double caught = b.meterRegistry().find(MeterNames.PEER_PIECE_FAILURES).tag("peer", liar.mesh.node()).tag("reason", "digest")
        .counters().stream().mapToDouble(c -> c.count()).sum();
    assertTrue(caught >= 1, "b caught the liar's corrupt pieces by their hashes: " + caught);
    assertEquals(0, upstream.stats().blobBytes() - upstreamBefore, "b's layer came from a, the honest peer");
    assertTrue(b.peers().isBanned(liar.mesh.node()), "the liar is banned on b");

    // and a host with another secret gets nothing from a node's data plane
    io.pullmesh.mesh.PeerTokens wrong = new io.pullmesh.mesh.PeerTokens("another-secret-0123456789", Clock.systemUTC(), java.time.Duration.ofMinutes(1));
    var refused = io.pullmesh.testkit.http.RawHttp.get(a.url() + io.pullmesh.mesh.MeshPeers.BLOBS + layer.digest(),
        java.util.Map.of("Authorization", wrong.issue("stranger", layer.digest()), "Range", "bytes=0-99"));
    assertEquals(403, refused.status(), refused.toString());
  }

  static double counter(PullmeshProxy p, String name) {
    return p.meterRegistry().find(name).counters().stream().mapToDouble(c -> c.count()).sum();
  }

  static void assertSameBlobs(FakeModel model, Path pulled) throws Exception {
    for (FakeBlob b : model.blobs()) {
      Path got = pulled.resolve("blobs").resolve("sha256-" + b.digest().hex());
      assertArrayEquals(Files.readAllBytes(b.file()), Files.readAllBytes(got), "blob " + b.digest().shortHex() + " in " + pulled);
    }
  }

  @Test
  void threeNodesPullingTheSameModelAtOnceCarryItFromUpstreamOnce() throws Exception {
    FakeModel model = ModelFixture.of("library/shared", "7b").layer("application/vnd.ollama.image.model", 24L << 20)
        .layer("application/vnd.ollama.image.template", 4096).seed(5).create(dir.resolve("model"));
    FakeRegistry upstream = FakeRegistry.start(model);
    open.add(upstream);
    upstream.setCdnBytesPerSecond(3L << 20); // per connection: 4 connections make a pull of a few seconds
    List<PullmeshProxy> nodes = mesh(upstream, 3, 4);
    OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build());
    open.add(client);
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try {
      List<Future<?>> pulls = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        PullmeshProxy node = nodes.get(i);
        Path dest = dir.resolve("ollama" + i);
        pulls.add(pool.submit(() -> {
          client.pull(node.url(), model.reference(), dest);
          return null;
        }));
      }
      for (Future<?> f : pulls) {
        f.get(120, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    for (int i = 0; i < 3; i++) {
      assertSameBlobs(model, dir.resolve("ollama" + i));
    }
    long modelBytes = model.blobs().stream().mapToLong(FakeBlob::size).sum();
    long wan = upstream.stats().blobBytes();
    assertTrue(wan <= modelBytes * 1.05, "upstream carried " + wan + " bytes for a model of " + modelBytes);
    double fromPeers = 0;
    for (PullmeshProxy p : nodes) {
      fromPeers += counter(p, MeterNames.PEER_BYTES);
    }
    assertTrue(fromPeers >= 2 * (24L << 20) * 0.9, "the two other nodes took the big layer from a peer: " + fromPeers + " bytes");
    for (PullmeshProxy p : nodes) {
      for (FakeBlob b : model.blobs()) {
        Waits.awaitTrue(() -> p.store().lookup(b.digest()).isPresent(), "every node committed " + b.digest().shortHex());
      }
    }
    // what the status page shows: each node sees two peers, and the bytes it took from them
    for (PullmeshProxy p : nodes) {
      io.vertx.core.json.JsonObject peers = new AdminHttp(p.url()).get("stats").object().getJsonObject("peers");
      assertEquals(2, peers.getInteger("count"), peers.encode());
      assertEquals("office", peers.getString("mesh"));
      assertEquals((long) counter(p, MeterNames.PEER_BYTES), peers.getLong("bytesFromPeers"), peers.encode());
    }
  }

  @Test
  void aNodeThatLeavesMidTransferCostsOnlyTime() throws Exception {
    FakeModel model = ModelFixture.of("library/leaver", "1b").layer("application/vnd.ollama.image.model", 16L << 20)
        .seed(7).create(dir.resolve("model"));
    FakeRegistry upstream = FakeRegistry.start(model);
    open.add(upstream);
    upstream.setCdnBytesPerSecond(1L << 20);
    List<PullmeshProxy> nodes = mesh(upstream, 2, 4);
    PullmeshProxy a = nodes.get(0);
    PullmeshProxy b = nodes.get(1);
    Digest layer = model.largestLayer().digest();
    OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build());
    open.add(client);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Future<?> onA = pool.submit(() -> {
        try {
          client.pull(a.url(), model.reference(), dir.resolve("ollama-a"));
        } catch (Exception e) {
          // a is stopped under its client: expected
        }
        return null;
      });
      Waits.awaitTrue(() -> a.downloads().active(layer) != null && a.downloads().active(layer).bytesDone() > (2L << 20),
          "a is fetching the layer from upstream");
      Future<?> onB = pool.submit(() -> {
        client.pull(b.url(), model.reference(), dir.resolve("ollama-b"));
        return null;
      });
      Waits.awaitTrue(() -> b.downloads().active(layer) != null && b.downloads().active(layer).peerBytes() > 0,
          "b streams the layer from a's partial copy");
      a.close();
      onB.get(120, TimeUnit.SECONDS);
      onA.get(30, TimeUnit.SECONDS);
    } finally {
      pool.shutdownNow();
    }
    assertSameBlobs(model, dir.resolve("ollama-b"));
    assertTrue(counter(b, MeterNames.PEER_BYTES) > 0, "b had bytes from a before a left");
    assertTrue(counter(b, MeterNames.UPSTREAM_BYTES) > 0, "b fetched the rest from upstream after a left");
  }

  /**
   * The counterpart of {@code FaultInjectionTest.aCorruptByteCostsAnOllamaClientOneFailedPullAndNothingElse}: once a
   * node of the mesh committed a blob and published its piece hashes, a corrupt byte from upstream on another node's
   * fetch is caught in its piece, before any client read it, and the piece is fetched again. The Ollama-like client's
   * first pull succeeds.
   */
  @Test
  void withPublishedPieceHashesACorruptUpstreamByteCostsTheClientNothing() throws Exception {
    FakeModel model = ModelFixture.of("library/guarded", "1b").layer("application/vnd.ollama.image.model", 8L << 20)
        .seed(13).create(dir.resolve("model"));
    FakeBlob layer = model.largestLayer();
    FakeRegistry upstream = FakeRegistry.start(model);
    open.add(upstream);
    List<PullmeshProxy> nodes = mesh(upstream, 2, 4);
    PullmeshProxy a = nodes.get(0);
    PullmeshProxy b = nodes.get(1);
    OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build());
    open.add(client);
    client.pull(a.url(), model.reference(), dir.resolve("ollama-a"));
    Waits.awaitTrue(() -> a.store().lookup(layer.digest()).isPresent(), "a committed the layer");
    awaitPieceHashes(b, layer.digest());
    // a leaves: b must fetch from upstream, with the piece hashes a published
    a.close();
    Waits.awaitTrue(() -> b.mesh().members().size() == 1, "a left");
    upstream.cdnFaults().add(io.pullmesh.testkit.fault.FaultRule.once(io.pullmesh.testkit.fault.Fault.corrupt(3_000_000)).forDigest(layer.digest()));
    long before = upstream.stats().blobBytes();

    client.pull(b.url(), model.reference(), dir.resolve("ollama-b"));

    assertSameBlobs(model, dir.resolve("ollama-b"));
    Waits.awaitTrue(() -> counter(b, MeterNames.DIGEST_MISMATCHES) == 1, "b caught the corrupt piece");
    assertArrayEquals(Files.readAllBytes(layer.file()), Files.readAllBytes(b.store().blobPath(layer.digest())));
    long fetched = upstream.stats().blobBytes() - before;
    assertTrue(fetched < model.totalBytes() + (2L << 20), "b fetched one piece again, not the whole blob: " + fetched);
  }

  /**
   * An office cut off from the WAN: upstream is down, and a node that never saw a model pulls it anyway, the manifest
   * from a peer's cache and the blobs from that peer. A model no node has still fails, with upstream's error.
   */
  @Test
  void anOfficeCutOffFromUpstreamStillPullsWhatAPeerHas() throws Exception {
    FakeModel model = ModelFixture.of("library/islanded", "2b").layer("application/vnd.ollama.image.model", 4L << 20)
        .seed(17).create(dir.resolve("model"));
    FakeModel other = ModelFixture.of("library/elsewhere", "1b").layer("application/vnd.ollama.image.model", 1L << 20)
        .seed(18).create(dir.resolve("other"));
    FakeRegistry upstream = FakeRegistry.start(model, other);
    open.add(upstream);
    List<PullmeshProxy> nodes = mesh(upstream, 2, 4);
    PullmeshProxy a = nodes.get(0);
    PullmeshProxy b = nodes.get(1);
    OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().maxTries(2).build());
    open.add(client);
    client.pull(a.url(), model.reference(), dir.resolve("ollama-a"));
    Waits.awaitTrue(() -> a.store().lookup(model.largestLayer().digest()).isPresent(), "a committed the layer");
    upstream.stop();

    client.pull(b.url(), model.reference(), dir.resolve("ollama-b"));

    assertSameBlobs(model, dir.resolve("ollama-b"));
    double fromPeer = b.meterRegistry().find(MeterNames.MANIFEST_REQUESTS).tag("result", "peer").counters().stream()
        .mapToDouble(c -> c.count()).sum();
    assertEquals(1.0, fromPeer, "the manifest came from a's cache");
    var e = org.junit.jupiter.api.Assertions.assertThrows(io.pullmesh.testkit.client.PullException.class,
        () -> client.pull(b.url(), other.reference(), dir.resolve("ollama-other")));
    assertTrue(e.getMessage().contains("UPSTREAM"), "a model no node has fails with upstream's error: " + e.getMessage());
  }

  @Test
  void theUpstreamRateCapsWhatComesFromUpstreamAndNotWhatComesFromAPeer() throws Exception {
    long size = 4L << 20;
    FakeModel model = ModelFixture.of("library/capped", "1b").layer("application/vnd.ollama.image.model", size).seed(19)
        .create(dir.resolve("model"));
    FakeRegistry upstream = FakeRegistry.start(model);
    open.add(upstream);
    List<PullmeshProxy> nodes = mesh(upstream, 2, 8, new int[0], "--upstream-rate", "1m");
    PullmeshProxy a = nodes.get(0);
    PullmeshProxy b = nodes.get(1);
    OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build());
    open.add(client);
    long start = System.nanoTime();
    client.pull(a.url(), model.reference(), dir.resolve("ollama-a"));
    double capped = (System.nanoTime() - start) / 1e9;
    assertTrue(capped >= size / (1.3 * (1 << 20)) - 0.2, "4 MiB at a cap of 1 MiB/s took only " + capped + " s");
    Waits.awaitTrue(() -> a.store().lookup(model.largestLayer().digest()).isPresent(), "a committed the layer");
    awaitPieceHashes(b, model.largestLayer().digest());

    start = System.nanoTime();
    client.pull(b.url(), model.reference(), dir.resolve("ollama-b"));
    double fromPeer = (System.nanoTime() - start) / 1e9;
    assertSameBlobs(model, dir.resolve("ollama-b"));
    assertTrue(counter(b, MeterNames.PEER_BYTES) >= size, "b took the layer from a");
    assertTrue(fromPeer < capped / 2, "from a peer the pull took " + fromPeer + " s, from the capped upstream " + capped + " s");
  }
}
