package io.pullmesh.testkit.registry;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Repository names: case-insensitive like registry.ollama.ai by default, only as spelled when asked. */
class CaseSensitiveNamesTest {
  static final String SPELLED = "bartowski/Llama-3.2-1B-Instruct-GGUF";

  @TempDir
  Path dir;

  private FakeModel model() {
    return ModelFixture.of(SPELLED, "Q4_K_M").layer(MediaTypes.MODEL, 10_000).seed(31).create(dir);
  }

  @Test
  void byDefaultAnyCaseOfANameFindsTheModel() {
    FakeModel m = model();
    try (FakeRegistry r = FakeRegistry.builder().build().publish(SPELLED, "Q4_K_M", m).start()) {
      assertFalse(r.caseSensitiveNames());
      assertArrayEquals(m.manifestBytes(), RawHttp.get(r.manifestUrl(SPELLED, "Q4_K_M")).body());
      assertEquals(200, RawHttp.get(r.manifestUrl(SPELLED.toLowerCase(), "Q4_K_M")).status());
      assertEquals(200, RawHttp.get(r.manifestUrl("BARTOWSKI/llama-3.2-1b-instruct-gguf", "Q4_K_M")).status());
      assertEquals(307, RawHttp.get(r.blobUrl(SPELLED.toLowerCase(), m.largestLayer().digest())).status());
      assertEquals(404, RawHttp.get(r.manifestUrl(SPELLED, "q4_k_m")).status(), "tags stay exact");
    }
  }

  @Test
  void caseSensitiveNamesMatchOnlyAsSpelled() {
    FakeModel m = model();
    try (FakeRegistry r = FakeRegistry.builder().caseSensitiveNames(true).build().publish(SPELLED, "Q4_K_M", m).start()) {
      assertTrue(r.caseSensitiveNames());
      assertArrayEquals(m.manifestBytes(), RawHttp.get(r.manifestUrl(SPELLED, "Q4_K_M")).body());
      assertEquals(200, RawHttp.get(r.manifestUrl(SPELLED, m.manifestDigest().toString())).status());
      assertEquals(307, RawHttp.get(r.blobUrl(SPELLED, m.largestLayer().digest())).status());

      String lower = SPELLED.toLowerCase();
      assertEquals(404, RawHttp.get(r.manifestUrl(lower, "Q4_K_M")).status());
      assertEquals(404, RawHttp.get(r.manifestUrl(lower, m.manifestDigest().toString())).status());
      assertEquals(404, RawHttp.get(r.blobUrl(lower, m.largestLayer().digest())).status());
      assertEquals(404, RawHttp.get(r.manifestUrl("Bartowski/Llama-3.2-1B-Instruct-GGUF", "Q4_K_M")).status());
    }
  }

  @Test
  void aCaseSensitiveGateFollowsTheSpelling() {
    FakeModel m = model();
    try (FakeRegistry r = FakeRegistry.builder().caseSensitiveNames(true).gate(SPELLED, "Q4_K_M", "0.5.0").build()
        .publish(SPELLED, "Q4_K_M", m).publish(SPELLED.toLowerCase(), "Q4_K_M", m).start()) {
      java.util.Map<String, String> old = java.util.Map.of("User-Agent", "ollama/0.4.0 (amd64 linux) Go/go1.22.0");
      assertEquals(412, RawHttp.get(r.manifestUrl(SPELLED, "Q4_K_M"), old).status());
      assertEquals(200, RawHttp.get(r.manifestUrl(SPELLED.toLowerCase(), "Q4_K_M"), old).status(),
          "another repository, though it differs only in case");
    }
  }
}
