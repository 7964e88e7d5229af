package io.pullmesh.seeder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.mesh.Mesh;
import io.pullmesh.proxy.ProxyConfig;
import io.pullmesh.proxy.PullmeshProxy;
import io.pullmesh.testkit.Waits;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.ModelFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code seed}: a headless node in a mesh (real Hazelcast members on 127.0.0.1 with a TCP member list, as in the
 * proxy's MeshProxyTest) announces the blobs of an imported cache, which a second node then finds in the index.
 */
class SeedTest {
  private static final String SECRET = "office-secret-0123456789";
  @TempDir Path dir;

  @Test
  void seedWithoutMeshOptionsSaysWhichToAdd() {
    Path cache = dir.resolve("cache");
    Cli.Result r = Cli.run("seed", "--cache-dir", cache.toString(), "--upstream", "http://127.0.0.1:1");
    assertEquals(2, r.code(), r.toString());
    assertTrue(r.err().contains("add --mesh-name NAME and --mesh-secret-file FILE"), r.toString());
    assertFalse(Files.exists(cache), "no node was started");

    Cli.Result onlyName = Cli.run("seed", "--mesh-name", "office", "--cache-dir", cache.toString());
    assertEquals(2, onlyName.code(), onlyName.toString());
    assertTrue(onlyName.err().contains("--mesh-name needs --mesh-secret-file FILE"), onlyName.toString());

    Cli.Result scheduleWithoutList = Cli.run("seed", "--every", "24h");
    assertEquals(2, scheduleWithoutList.code(), scheduleWithoutList.toString());
    assertTrue(scheduleWithoutList.err().contains("add --prefetch-list FILE"), scheduleWithoutList.toString());

    Cli.Result operand = Cli.run("seed", "qwen2.5:7b");
    assertEquals(2, operand.code(), operand.toString());
    assertTrue(operand.err().contains("seed takes options only"), operand.toString());
  }

  @Test
  void aSeederAnnouncesTheBlobsOfAnImportedCacheToTheMesh() throws Exception {
    Path ollama = dir.resolve("ollama");
    FakeModel tiny = ModelFixture.tiny().seed(77).create(ollama);
    Cli.writeManifests(ollama, tiny);
    Path cache = dir.resolve("seed-cache");
    Cli.Result imported = Cli.run("import", ollama.toString(), "--cache-dir", cache.toString());
    assertEquals(0, imported.code(), imported.toString());

    Path secret = dir.resolve("mesh.secret");
    Files.writeString(secret, SECRET + "\n");
    int seedMeshPort = Cli.freePort();
    int otherMeshPort = Cli.freePort();
    int seedPort = Cli.freePort();
    String members = "127.0.0.1:" + seedMeshPort + ",127.0.0.1:" + otherMeshPort;
    String[] mesh = {"--mesh-name", "office", "--mesh-secret-file", secret.toString(), "--mesh-members", members};

    try (Cli.Daemon seeder = new Cli.Daemon(concat(new String[] {"seed", "--listen", "127.0.0.1:" + seedPort, "--transfer-port", "0", "--cache-dir", cache.toString(),
        "--upstream", "http://127.0.0.1:1", "--intercept-hosts", "none", "--mesh-port", Integer.toString(seedMeshPort)}, mesh))) {
      PullmeshProxy seed = seeder.node();
      String startup = seeder.out();
      assertTrue(startup.contains("seeding mesh office: node " + seed.mesh().node() + " at http://127.0.0.1:" + seedPort), startup);
      assertTrue(startup.contains("cache " + cache.toAbsolutePath() + " holding 3.0 MiB in 4 blobs (all announced)"), startup);

      ProxyConfig otherConfig = ((ProxyConfig.Run) ProxyConfig.parse(concat(new String[] {"--listen", "127.0.0.1:0", "--cache-dir",
          dir.resolve("other-cache").toString(), "--upstream", "http://127.0.0.1:1", "--intercept-hosts", "none", "--mesh-port",
          Integer.toString(otherMeshPort)}, mesh), Map.of())).config();
      try (PullmeshProxy other = PullmeshProxy.start(otherConfig)) {
        Waits.awaitTrue(() -> seed.mesh().members().size() == 2 && other.mesh().members().size() == 2, "both nodes in the mesh");
        Mesh.Peer expected = new Mesh.Peer(seed.mesh().node(), "http://127.0.0.1:" + seedPort);
        for (FakeBlob b : tiny.blobs()) {
          Waits.awaitTrue(() -> {
            try {
              return Waits.await(other.mesh().holders(b.digest())).equals(List.of(expected));
            } catch (Exception e) {
              return false;
            }
          }, "the other node finds the seeder holding " + b.digest());
        }
      }

      // and it serves the imported model to Ollama clients with no upstream
      try (OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
        client.pull(seed.url(), tiny.reference(), dir.resolve("client"));
        FakeBlob layer = tiny.largestLayer();
        assertArrayEquals(Files.readAllBytes(layer.file()), Files.readAllBytes(dir.resolve("client/blobs/sha256-" + layer.digest().hex())));
      }
      assertEquals(0, seeder.stop());
    }
  }

  /**
   * The proof: an Ollama models directory imported into a seeder, then pulled through another node of the
   * mesh. Every blob the client gets is byte-identical to the directory's, and it came from the seeder over the peer
   * data plane: upstream (which has the model, for the manifest) sends no blob byte.
   */
  @Test
  void anImportedModelPulledThroughAnotherNodeComesFromTheSeederByteIdentical() throws Exception {
    Path ollama = dir.resolve("ollama");
    FakeModel model = ModelFixture.of("library/office", "7b").layer(io.pullmesh.testkit.model.MediaTypes.MODEL, 12L << 20)
        .layer(io.pullmesh.testkit.model.MediaTypes.TEMPLATE, 733).seed(78).create(ollama);
    Cli.writeManifests(ollama, model);
    Path cache = dir.resolve("seed-cache");
    Cli.Result imported = Cli.run("import", ollama.toString(), "--cache-dir", cache.toString());
    assertEquals(0, imported.code(), imported.toString());

    Path secret = dir.resolve("mesh.secret");
    Files.writeString(secret, SECRET + "\n");
    int seedMeshPort = Cli.freePort();
    int otherMeshPort = Cli.freePort();
    String members = "127.0.0.1:" + seedMeshPort + ",127.0.0.1:" + otherMeshPort;
    String[] mesh = {"--mesh-name", "office", "--mesh-secret-file", secret.toString(), "--mesh-members", members};
    try (io.pullmesh.testkit.registry.FakeRegistry upstream = io.pullmesh.testkit.registry.FakeRegistry.start(model);
        Cli.Daemon seeder = new Cli.Daemon(concat(new String[] {"seed", "--listen", "127.0.0.1:" + Cli.freePort(), "--transfer-port", "0", "--cache-dir",
            cache.toString(), "--upstream", upstream.registryUrl(), "--intercept-hosts", "none", "--mesh-port",
            Integer.toString(seedMeshPort)}, mesh))) {
      PullmeshProxy seed = seeder.node();
      ProxyConfig otherConfig = ((ProxyConfig.Run) ProxyConfig.parse(concat(new String[] {"--listen", "127.0.0.1:0", "--cache-dir",
          dir.resolve("other-cache").toString(), "--upstream", upstream.registryUrl(), "--intercept-hosts", "none", "--mesh-port",
          Integer.toString(otherMeshPort)}, mesh), Map.of())).config();
      try (PullmeshProxy other = PullmeshProxy.start(otherConfig);
          OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
        Waits.awaitTrue(() -> seed.mesh().members().size() == 2 && other.mesh().members().size() == 2, "both nodes in the mesh");
        for (FakeBlob b : model.blobs()) {
          Waits.awaitTrue(() -> {
            try {
              return !Waits.await(other.mesh().holders(b.digest())).isEmpty();
            } catch (Exception e) {
              return false;
            }
          }, "the other node finds the seeder holding " + b.digest());
        }
        client.pull(other.url(), model.reference(), dir.resolve("client"));
        for (FakeBlob b : model.blobs()) {
          byte[] original = Files.readAllBytes(b.file());
          assertArrayEquals(original, Files.readAllBytes(dir.resolve("client/blobs/sha256-" + b.digest().hex())), "client copy of " + b.digest());
          Waits.awaitTrue(() -> other.store().lookup(b.digest()).isPresent(), "the other node committed " + b.digest());
          assertArrayEquals(original, Files.readAllBytes(other.store().blobPath(b.digest())), "other node's copy of " + b.digest());
        }
        assertEquals(0, upstream.stats().blobBytes(), "no blob byte came from upstream");
        double fromPeers = other.meterRegistry().find(io.pullmesh.metrics.MeterNames.PEER_BYTES).counters().stream()
            .mapToDouble(c -> c.count()).sum();
        assertEquals((double) model.blobs().stream().mapToLong(FakeBlob::size).sum(), fromPeers, "every blob byte came from the seeder");
      }
      assertEquals(0, seeder.stop());
    }
  }

  private static String[] concat(String[] a, String[] b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
