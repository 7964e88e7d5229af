package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class MediaTypeTest {
  private static byte[] json(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void textPlainManifestGetsItsOwnMediaType() {
    // registry.ollama.ai serves manifests as text/plain
    assertEquals("application/vnd.docker.distribution.manifest.v2+json", ManifestMediaType.of("text/plain; charset=utf-8",
        json("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\"}")));
    assertEquals("application/vnd.oci.image.manifest.v1+json", ManifestMediaType.of(null,
        json("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"}")));
  }

  @Test
  void upstreamManifestTypeIsKept() {
    assertEquals("application/vnd.oci.image.index.v1+json", ManifestMediaType.of("application/vnd.oci.image.index.v1+json; charset=x",
        json("{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\"}")));
  }

  @Test
  void fallbacks() {
    assertEquals(ManifestMediaType.DEFAULT, ManifestMediaType.of("text/plain", json("{\"schemaVersion\":2}")));
    assertEquals("text/plain", ManifestMediaType.of("text/plain", json("not json")));
  }
}
