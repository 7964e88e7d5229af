package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Properties;
import org.junit.jupiter.api.Test;

/** The launcher's JVM-wide defaults; that the shipped jar's sockets really use them is ProxyProcessIT's to show. */
class MainTest {
  @Test
  void theLauncherPutsNettyOnItsPooledAllocatorWithOneArenaOfOneMiBChunks() {
    Properties p = new Properties();
    Main.nettyMemoryDefaults(p);
    assertEquals("pooled", p.getProperty("io.netty.allocator.type"));
    assertEquals("1", p.getProperty("io.netty.allocator.numDirectArenas"));
    // 8 KiB pages << 7 = 1 MiB chunks
    assertEquals("7", p.getProperty("io.netty.allocator.maxOrder"));
  }

  @Test
  void aValueTheUserGaveWithDashDWins() {
    Properties p = new Properties();
    p.setProperty("io.netty.allocator.type", "adaptive");
    p.setProperty("io.netty.allocator.numDirectArenas", "4");
    Main.nettyMemoryDefaults(p);
    assertEquals("adaptive", p.getProperty("io.netty.allocator.type"));
    assertEquals("4", p.getProperty("io.netty.allocator.numDirectArenas"));
    assertEquals("7", p.getProperty("io.netty.allocator.maxOrder"));
  }
}
