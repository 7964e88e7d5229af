package io.pullmesh.testkit.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The version arithmetic of the version gate, without any server. */
class VersionGateTest {

  @ParameterizedTest(name = "{0} vs {1}: {2}")
  @CsvSource({
      "0.13.5, 0.9.3, 1",
      "0.9.3, 0.13.5, -1",
      "0.13.5, 0.13.5, 0",
      "0.0.0, 0.1.0, -1",
      "0.12.0-rc1, 0.12.0, -1",
      "0.12.0, 0.12.0-rc1, 1",
      "0.12.0-rc1, 0.12.0-rc2, -1",
      "0.12.0-rc10, 0.12.0-rc2, -1",
      "0.12.0-1, 0.12.0-rc1, -1",
      "0.12.0-rc.2, 0.12.0-rc.10, -1",
      "0.12.0-rc, 0.12.0-rc.1, -1",
      "1.0.0, 0.99.99, 1",
      "0.13, 0.13.0, 0",
      "v0.13.5, 0.13.5, 0",
      "0.13.5+build7, 0.13.5, 0"
  })
  void versionsCompareBySemverPrecedence(String a, String b, int sign) {
    assertEquals(sign, Integer.signum(VersionGate.compare(a, b)));
  }

  @Test
  void theVersionComesFromAnOllamaUserAgent() {
    assertEquals("0.13.5", VersionGate.versionOf("ollama/0.13.5 (amd64 linux) Go/go1.24.1"));
    assertEquals("0.12.0-rc1", VersionGate.versionOf("ollama/0.12.0-rc1 (arm64 darwin) Go/go1.24.0"));
    assertEquals("0.0.0", VersionGate.versionOf("ollama/0.0.0 (amd64 linux) Go/go1.24.1"));
  }

  @Test
  void anyOtherUserAgentCountsAsVersionZero() {
    assertEquals("0.0.0", VersionGate.versionOf(null));
    assertEquals("0.0.0", VersionGate.versionOf("Go-http-client/1.1"));
    assertEquals("0.0.0", VersionGate.versionOf("curl/8.5.0"));
    assertEquals("0.0.0", VersionGate.versionOf("pullmesh/0.1.0 ollama/0.13.5"));
    assertEquals("0.0.0", VersionGate.versionOf("ollama/dev (amd64 linux)"));
  }

  @Test
  void aClientIsAdmittedFromTheMinimumOn() {
    assertTrue(VersionGate.admits("ollama/0.13.5 (amd64 linux) Go/go1.24.1", "0.9.3"));
    assertTrue(VersionGate.admits("ollama/0.13.5 (amd64 linux) Go/go1.24.1", "0.13.5"));
    assertFalse(VersionGate.admits("ollama/0.9.3 (amd64 linux) Go/go1.24.1", "0.13.5"));
    assertFalse(VersionGate.admits("ollama/0.12.0-rc1 (amd64 linux) Go/go1.24.1", "0.12.0"));
    assertFalse(VersionGate.admits("ollama/0.0.0 (amd64 linux) Go/go1.24.1", "0.0.1"));
    assertFalse(VersionGate.admits("curl/8.5.0", "0.1.0"));
  }

  @Test
  void theRefusalSaysPreReleaseOnlyWhenTheMinimumIsNewerThanTheLatestRelease() {
    VersionGate gate = new VersionGate(new ModelCatalog(false, false)::key);
    assertEquals(VersionGate.NEWER_VERSION, gate.refusalBody("0.99.0"));
    gate.setLatestRelease("0.17.0");
    assertEquals(VersionGate.PRE_RELEASE, gate.refusalBody("0.17.1"));
    assertEquals(VersionGate.NEWER_VERSION, gate.refusalBody("0.17.0"));
    assertTrue(VersionGate.PRE_RELEASE.contains("requires a newer version of Ollama that may be in pre-release."));
  }

  @Test
  void gatesAreReplacedAndRemovedByRepositoryAndTag() {
    VersionGate gate = new VersionGate(new ModelCatalog(false, false)::key);
    gate.add("library/qwen3", "latest", "0.6.6");
    gate.add("library/qwen3", "latest", "0.7.0");
    assertEquals(1, gate.gates().size());
    assertEquals("0.7.0", gate.gates().get(0).minimum());
    assertFalse(gate.remove("library/qwen3", "8b"));
    assertTrue(gate.remove("library/qwen3", "latest"));
    assertTrue(gate.gates().isEmpty());
  }

  @Test
  void aMalformedMinimumIsRefused() {
    VersionGate gate = new VersionGate(new ModelCatalog(false, false)::key);
    assertThrows(IllegalArgumentException.class, () -> gate.add("library/x", "latest", "latest"));
    assertThrows(IllegalArgumentException.class, () -> VersionGate.compare("0.1.0", "one"));
    assertThrows(IllegalArgumentException.class, () -> FakeRegistry.builder().gate("library/x", "latest", "latest"));
    assertThrows(IllegalArgumentException.class, () -> FakeRegistry.builder().latestOllamaRelease("one"));
  }
}
