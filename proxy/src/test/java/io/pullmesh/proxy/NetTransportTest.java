package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.epoll.Epoll;
import io.pullmesh.testkit.registry.FakeRegistry;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which sockets {@code --net-transport} gives, where epoll loads and where it does not. */
class NetTransportTest {
  @TempDir
  Path dir;

  @Test
  void autoIsTheDefaultAndTheOptionAndItsVariableAreRead() {
    assertEquals(NetTransport.AUTO, config().netTransport());
    assertEquals(NetTransport.NIO, config("--net-transport", "NIO").netTransport());
    assertEquals(NetTransport.EPOLL, ((ProxyConfig.Run) ProxyConfig.parse(new String[] {"--upstream", "http://127.0.0.1:1", "--cache-dir",
        dir.toString()}, Map.of("PULLMESH_NET_TRANSPORT", "epoll"))).config().netTransport());
    ConfigException e = assertThrows(ConfigException.class, () -> config("--net-transport", "kqueue"));
    assertTrue(e.getMessage().contains("auto, epoll or nio"), e.getMessage());
  }

  @Test
  void epollAskedForWhereItCannotLoadFailsWithWhatToUseInstead() {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> NetTransport.EPOLL.resolved(false, new UnsatisfiedLinkError("no libnetty_transport_native_epoll")));
    assertTrue(e.getMessage().contains("--net-transport auto or nio"), e.getMessage());
    assertTrue(e.getMessage().contains("no libnetty_transport_native_epoll"), e.getMessage());
  }

  @Test
  void autoFallsBackToNioAndSaysWhy() {
    String line = NetTransport.AUTO.resolved(false, new UnsatisfiedLinkError("musl"));
    assertTrue(line.contains("NIO") && line.contains("musl"), line);
    assertFalse(NetTransport.NIO.preferNative());
    assertTrue(NetTransport.AUTO.preferNative());
  }

  @Test
  void aNodeOnLinuxRunsItsSocketsOnEpollByDefaultAndOnNioWhenAsked() throws Exception {
    Assumptions.assumeTrue(Epoll.isAvailable(), () -> "epoll does not load here: " + Epoll.unavailabilityCause());
    try (Harness h = Harness.start(dir.resolve("a"), Harness.testFetchConfig(4), FakeRegistry.builder().start())) {
      assertTrue(h.proxy.vertx().isNativeTransportEnabled(), "auto on Linux with epoll available");
    }
    try (Harness h = Harness.start(dir.resolve("b"), Harness.testFetchConfig(4), FakeRegistry.builder().start(), "--net-transport", "nio")) {
      assertFalse(h.proxy.vertx().isNativeTransportEnabled(), "nio asked for");
    }
  }

  private ProxyConfig config(String... args) {
    return Harness.config("http://127.0.0.1:1", dir.resolve("cache"), args);
  }
}
