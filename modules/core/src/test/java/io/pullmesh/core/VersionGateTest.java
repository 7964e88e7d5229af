package io.pullmesh.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.pullmesh.core.VersionGate.Verdict;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class VersionGateTest {
  private static Optional<OllamaVersion> v(String s) {
    return Optional.of(OllamaVersion.parse(s));
  }

  @Test
  void aTagNeverRefusedIsServedToEveryClient() {
    assertEquals(Verdict.ACCEPTED, VersionGate.OPEN.verdict(v("0.0.0")));
    assertEquals(Verdict.ACCEPTED, VersionGate.OPEN.verdict(Optional.empty()));
  }

  @Test
  void aClientOlderThanAnyAcceptedIsAskedAboutEvenWhenNoneWasRefused() {
    // regression: a current client's pull made the tag look open, and an old client was then handed the cached manifest
    VersionGate g = VersionGate.OPEN.accepted(OllamaVersion.parse("0.13.5"));
    assertEquals(Verdict.UNKNOWN, g.verdict(v("0.9.3")));
    assertEquals(Verdict.ACCEPTED, g.verdict(v("0.13.5")));
    assertEquals(Verdict.ACCEPTED, g.verdict(Optional.empty()));
    assertEquals(Verdict.ACCEPTED, g.accepted(OllamaVersion.parse("0.9.3")).verdict(v("0.9.3")));
  }

  @Test
  void aClientNoNewerThanOneRefusedIsRefusedWithTheRegistrysWords() {
    VersionGate g = VersionGate.OPEN.refused(OllamaVersion.parse("0.9.3"), "requires a newer version of Ollama");
    assertEquals(Verdict.REFUSED, g.verdict(v("0.9.3")));
    assertEquals(Verdict.REFUSED, g.verdict(v("0.5.0")));
    assertEquals("requires a newer version of Ollama", g.refusal());
  }

  @Test
  void aClientBetweenTheNewestRefusedAndTheOldestAcceptedIsAskedAboutUpstream() {
    VersionGate g = VersionGate.OPEN.refused(OllamaVersion.parse("0.9.3"), "x").accepted(OllamaVersion.parse("0.13.5"));
    assertEquals(Verdict.UNKNOWN, g.verdict(v("0.11.0")));
    assertEquals(Verdict.ACCEPTED, g.verdict(v("0.13.5")));
    assertEquals(Verdict.ACCEPTED, g.verdict(v("0.14.0")));
    assertEquals(Verdict.UNKNOWN, g.verdict(Optional.empty()));
  }

  @Test
  void theOldestAcceptedOnlyMovesDownAndTheNewestRefusedOnlyUp() {
    VersionGate g = VersionGate.OPEN.refused(OllamaVersion.parse("0.9.3"), "a").refused(OllamaVersion.parse("0.5.0"), "b")
        .accepted(OllamaVersion.parse("0.13.5")).accepted(OllamaVersion.parse("0.14.0"));
    assertEquals(OllamaVersion.parse("0.9.3"), g.newestRefused());
    assertEquals(OllamaVersion.parse("0.13.5"), g.oldestAccepted());
  }

  @Test
  void anAcceptanceOfAVersionOnceRefusedMeansTheBarCameDown() {
    VersionGate g = VersionGate.OPEN.refused(OllamaVersion.parse("0.11.0"), "x").accepted(OllamaVersion.parse("0.10.0"));
    assertNull(g.newestRefused());
    assertEquals(Verdict.ACCEPTED, g.verdict(v("0.11.0")));
    assertEquals(Verdict.UNKNOWN, g.verdict(v("0.1.0")), "older than any accepted: asked about");
  }

  @Test
  void aRefusalOfAVersionOnceAcceptedMeansTheBarRose() {
    VersionGate g = VersionGate.OPEN.accepted(OllamaVersion.parse("0.12.0")).refused(OllamaVersion.parse("0.13.0"), "newer model");
    assertNull(g.oldestAccepted());
    assertEquals(Verdict.REFUSED, g.verdict(v("0.12.0")));
    assertEquals(Verdict.UNKNOWN, g.verdict(v("0.14.0")));
  }

  @Test
  void theRegistrysWordsAreKeptWithinABound() {
    VersionGate g = VersionGate.OPEN.refused(OllamaVersion.parse("0.1.0"), "w".repeat(10_000));
    assertEquals(VersionGate.MAX_REFUSAL_CHARS, g.refusal().length());
  }
}
