package io.pullmesh.mesh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Digest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class PeerTokensTest {
  private static final Digest A = Digest.ofHex("a".repeat(64));
  private static final Digest B = Digest.ofHex("b".repeat(64));
  private static final String SECRET = "0123456789abcdef0123";

  private static Clock at(long epochSecond) {
    return Clock.fixed(Instant.ofEpochSecond(epochSecond), ZoneOffset.UTC);
  }

  @Test
  void aTokenOpensItsDigestOnlyUntilItExpires() {
    PeerTokens issuer = new PeerTokens(SECRET, at(1000), Duration.ofSeconds(60));
    String t = issuer.issue("node-1", A);
    assertTrue(t.startsWith("PullmeshPeer node-1:1060:"), t);
    assertEquals("node-1", new PeerTokens(SECRET, at(1060), Duration.ofSeconds(60)).verify(t, A));
    SecurityException expired = assertThrows(SecurityException.class, () -> new PeerTokens(SECRET, at(1061), Duration.ofSeconds(60)).verify(t, A));
    assertTrue(expired.getMessage().contains("expired"));
    SecurityException other = assertThrows(SecurityException.class, () -> issuer.verify(t, B));
    assertTrue(other.getMessage().contains("does not match"));
  }

  @Test
  void anotherSecretOrATamperedTokenIsRefused() {
    PeerTokens ours = new PeerTokens(SECRET, at(1000), Duration.ofSeconds(60));
    PeerTokens theirs = new PeerTokens("another-secret-of-16+", at(1000), Duration.ofSeconds(60));
    assertThrows(SecurityException.class, () -> ours.verify(theirs.issue("intruder", A), A));
    String t = ours.issue("node-1", A);
    assertThrows(SecurityException.class, () -> ours.verify(t.replace("node-1", "node-2"), A), "the node is signed");
    assertThrows(SecurityException.class, () -> ours.verify(t.replace(":1060:", ":9999:"), A), "the expiry is signed");
    for (String bad : new String[] {null, "", "Bearer x", "PullmeshPeer x", "PullmeshPeer a:b:c", "PullmeshPeer :1:00"}) {
      assertThrows(SecurityException.class, () -> ours.verify(bad, A), String.valueOf(bad));
    }
    assertThrows(IllegalArgumentException.class, () -> new PeerTokens("short", at(0), Duration.ofSeconds(1)));
  }
}
