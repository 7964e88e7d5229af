package io.pullmesh.fetch;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.util.Locale;
import java.util.Set;

/**
 * The media types of manifests: what pullmesh accepts from an upstream, and the type it serves a fetched manifest
 * under. Pure. Not for checking that a manifest is one (the fetch refuses a body that is not JSON), nor for reading
 * what a manifest names.
 */
final class ManifestMediaType {
  /** Accept header for manifests: every manifest type Ollama and OCI registries serve. */
  static final String ACCEPT = String.join(", ",
      "application/vnd.docker.distribution.manifest.v2+json",
      "application/vnd.oci.image.manifest.v1+json",
      "application/vnd.oci.image.index.v1+json",
      "application/vnd.docker.distribution.manifest.list.v2+json");
  static final String DEFAULT = "application/vnd.docker.distribution.manifest.v2+json";
  private static final Set<String> MANIFEST_TYPES = Set.of(
      "application/vnd.docker.distribution.manifest.v2+json",
      "application/vnd.docker.distribution.manifest.list.v2+json",
      "application/vnd.docker.distribution.manifest.v1+json",
      "application/vnd.docker.distribution.manifest.v1+prettyjws",
      "application/vnd.oci.image.manifest.v1+json",
      "application/vnd.oci.image.index.v1+json");

  private ManifestMediaType() {}

  /**
   * The media type to serve a manifest with: upstream's when it is a manifest type, otherwise (registry.ollama.ai
   * says {@code text/plain}) the manifest's own {@code mediaType} field, otherwise Docker v2.
   */
  static String of(String upstreamType, byte[] bytes) {
    if (upstreamType != null) {
      String t = upstreamType.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
      if (MANIFEST_TYPES.contains(t)) {
        return t;
      }
    }
    try {
      Object mt = new JsonObject(Buffer.buffer(bytes)).getValue("mediaType");
      if (mt instanceof String s && MANIFEST_TYPES.contains(s)) {
        return s;
      }
    } catch (RuntimeException e) {
      // not JSON: serve it as upstream said, it is a mirror's job to pass bytes through
      if (upstreamType != null && !upstreamType.isBlank()) {
        return upstreamType;
      }
    }
    return DEFAULT;
  }
}
