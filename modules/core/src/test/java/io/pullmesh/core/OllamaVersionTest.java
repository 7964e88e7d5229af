package io.pullmesh.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class OllamaVersionTest {
  @Test
  void readsTheVersionOfOllamasUserAgent() {
    assertEquals(Optional.of(OllamaVersion.parse("0.13.5")), OllamaVersion.fromUserAgent("ollama/0.13.5 (amd64 linux) Go/go1.24.1"));
    assertEquals(Optional.of(OllamaVersion.parse("0.0.0")), OllamaVersion.fromUserAgent("ollama/0.0.0 (arm64 darwin) Go/go1.24.1"));
  }

  @Test
  void otherClientsHaveNoOllamaVersion() {
    assertEquals(Optional.empty(), OllamaVersion.fromUserAgent("curl/7.88.1"));
    assertEquals(Optional.empty(), OllamaVersion.fromUserAgent("Go-http-client/1.1"));
    assertEquals(Optional.empty(), OllamaVersion.fromUserAgent(null));
    assertEquals(Optional.empty(), OllamaVersion.fromUserAgent("ollama/unknown"));
  }

  @Test
  void comparesNumericallyNotAsText() {
    assertTrue(OllamaVersion.parse("0.9.3").isOlderThan(OllamaVersion.parse("0.13.5")));
    assertTrue(OllamaVersion.parse("0.0.0").isOlderThan(OllamaVersion.parse("0.1.0")));
    assertTrue(OllamaVersion.parse("1.0.0").compareTo(OllamaVersion.parse("0.99.99")) > 0);
  }

  @Test
  void aPreReleaseSortsBeforeItsRelease() {
    assertTrue(OllamaVersion.parse("0.12.0-rc1").isOlderThan(OllamaVersion.parse("0.12.0")));
    assertTrue(OllamaVersion.parse("0.12.0-rc1").isOlderThan(OllamaVersion.parse("0.12.0-rc2")));
    assertTrue(OllamaVersion.parse("0.12.0-rc.2").isOlderThan(OllamaVersion.parse("0.12.0-rc.10")));
    assertTrue(OllamaVersion.parse("0.11.9").isOlderThan(OllamaVersion.parse("0.12.0-rc1")));
    assertEquals("0.12.0-rc1", OllamaVersion.parse("v0.12.0-rc1").toString());
  }

  @Test
  void regressionANumericPreReleaseTooLongForALongStillCompares() {
    // a client's User-Agent may carry up to 40 digits of pre-release; Long.parseLong threw on the 20th
    OllamaVersion big = OllamaVersion.parse("0.1.0-99999999999999999999");
    OllamaVersion bigger = OllamaVersion.parse("0.1.0-100000000000000000000");
    assertTrue(big.isOlderThan(bigger));
    assertTrue(OllamaVersion.parse("0.1.0-9").isOlderThan(big));
    assertEquals(0, big.compareTo(OllamaVersion.parse("0.1.0-99999999999999999999")));
  }

  @Test
  void refusesWhatIsNotAVersionSayingWhatIsExpected() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OllamaVersion.parse("0.13"));
    assertTrue(e.getMessage().contains("major.minor.patch"), e.getMessage());
  }
}
