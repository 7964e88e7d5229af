package io.pullmesh.mesh;

import static io.pullmesh.testkit.Waits.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Digest;
import io.pullmesh.testkit.Waits;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Real Hazelcast members (three clustered Vert.x instances in this JVM) on 127.0.0.1, found through a TCP member
 * list with multicast off: the location index is shared, a departed node's blobs disappear from it, and a node
 * with another secret is in a cluster of its own.
 */
class MeshTest {
  private static final String SECRET = "office-secret-0123456789";
  private static final Digest X = Digest.ofHex("1".repeat(64));
  private final List<Mesh> nodes = new ArrayList<>();

  @AfterEach
  void leave() {
    for (Mesh m : nodes) {
      m.close();
    }
  }

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      return s.getLocalPort();
    }
  }

  private Mesh join(String secret, int port, List<String> members, String url) throws Exception {
    Mesh m = Mesh.join(new Mesh.Settings("test-mesh", secret, "127.0.0.1", port, members, url))
        .toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    nodes.add(m);
    return m;
  }

  @Test
  void nodesShareTheIndexAndForgetANodeThatLeaves() throws Exception {
    int p1 = freePort();
    int p2 = freePort();
    int p3 = freePort();
    List<String> members = List.of("127.0.0.1:" + p1, "127.0.0.1:" + p2, "127.0.0.1:" + p3);
    Mesh a = join(SECRET, p1, members, "http://127.0.0.1:1001");
    Mesh b = join(SECRET, p2, members, "http://127.0.0.1:1002");
    Mesh c = join(SECRET, p3, members, "http://127.0.0.1:1003");
    Waits.awaitTrue(() -> a.members().size() == 3 && c.members().size() == 3, "three members");

    assertTrue(await(b.holders(X)).isEmpty());
    await(a.announce(X, 1));
    assertEquals(List.of(new Mesh.Peer(a.node(), "http://127.0.0.1:1001")), await(b.holders(X)));
    assertEquals(List.of(new Mesh.Peer(a.node(), "http://127.0.0.1:1001")), await(c.holders(X)));
    assertTrue(await(a.holders(X)).isEmpty(), "a node is not its own peer");
    await(c.announce(X, 1));
    assertEquals(2, await(b.holders(X)).size());

    await(c.withdraw(X));
    assertEquals(List.of(a.node()), await(b.holders(X)).stream().map(Mesh.Peer::node).toList());

    // a leaves: the others stop naming it
    nodes.remove(a);
    a.close();
    Waits.awaitTrue(() -> b.members().size() == 2, "a is gone");
    Waits.awaitTrue(() -> {
      try {
        return await(b.holders(X)).isEmpty();
      } catch (Exception e) {
        return false;
      }
    }, "a's blob is no longer listed");
  }

  @Test
  void aNodeWithAnotherSecretIsInAClusterOfItsOwn() throws Exception {
    int p1 = freePort();
    int p2 = freePort();
    List<String> members = List.of("127.0.0.1:" + p1, "127.0.0.1:" + p2);
    Mesh good = join(SECRET, p1, members, "http://127.0.0.1:1001");
    Mesh stranger = join("not-the-office-secret-000", p2, members, "http://127.0.0.1:6666");
    await(good.announce(X, 1));
    await(stranger.announce(X, 1));
    Thread.sleep(1000); // time for a join that must not happen
    assertEquals(1, good.members().size());
    assertEquals(1, stranger.members().size());
    assertTrue(await(stranger.holders(X)).isEmpty(), "the stranger sees nothing of the office's index");
    assertTrue(await(good.holders(X)).isEmpty(), "and the office never lists the stranger");
    assertNotEquals(Mesh.secretTag(SECRET), Mesh.secretTag("not-the-office-secret-000"));
  }
}
