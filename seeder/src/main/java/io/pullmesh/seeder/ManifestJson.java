package io.pullmesh.seeder;

import io.pullmesh.core.Digest;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * What the seeder reads from a model manifest ({@code {schemaVersion:2, mediaType, config{...}, layers[...]}}):
 * its blobs with their sizes, and the media type to serve it with. The bytes themselves are never rewritten.
 */
final class ManifestJson {
  /** The largest manifest read; Ollama's are a few KiB. */
  static final int MAX_BYTES = 4 << 20;

  static final String DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json";
  private static final Set<String> MANIFEST_TYPES = Set.of(DOCKER_V2, "application/vnd.oci.image.manifest.v1+json");

  private ManifestJson() {}

  /** A blob the manifest names. */
  record Descriptor(Digest digest, long size, String mediaType) {}

  /**
   * @param layers in manifest order
   */
  record Parsed(Descriptor config, List<Descriptor> layers) {
    /** Layers in manifest order, then the config (the order Ollama downloads them in), each digest once. */
    List<Descriptor> blobs() {
      List<Descriptor> out = new ArrayList<>();
      Set<Digest> seen = new LinkedHashSet<>();
      for (Descriptor d : layers) {
        if (seen.add(d.digest())) {
          out.add(d);
        }
      }
      if (seen.add(config.digest())) {
        out.add(config);
      }
      return out;
    }

    long totalBytes() {
      long sum = 0;
      for (Descriptor d : blobs()) {
        sum += d.size();
      }
      return sum;
    }
  }

  /** @throws IllegalArgumentException saying what is missing or malformed */
  static Parsed parse(byte[] bytes) {
    JsonObject json;
    try {
      json = new JsonObject(Buffer.buffer(bytes));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("not a JSON object");
    }
    if (!(json.getValue("schemaVersion") instanceof Number n) || n.intValue() != 2) {
      throw new IllegalArgumentException("not a schemaVersion 2 image manifest");
    }
    Descriptor config = descriptor(json.getValue("config"), "config");
    if (!(json.getValue("layers") instanceof JsonArray arr)) {
      throw new IllegalArgumentException("no layers array");
    }
    List<Descriptor> layers = new ArrayList<>();
    for (int i = 0; i < arr.size(); i++) {
      layers.add(descriptor(arr.getValue(i), "layer " + i));
    }
    return new Parsed(config, layers);
  }

  private static Descriptor descriptor(Object o, String what) {
    if (!(o instanceof JsonObject d)) {
      throw new IllegalArgumentException(what + " is missing");
    }
    if (!(d.getValue("digest") instanceof String s) || !Digest.isValid(s)) {
      throw new IllegalArgumentException(what + " has no valid sha256 digest");
    }
    if (!(d.getValue("size") instanceof Number n) || n.longValue() < 0 || n.doubleValue() != n.longValue()) {
      throw new IllegalArgumentException(what + " has no valid size");
    }
    return new Descriptor(Digest.parse(s), n.longValue(), d.getValue("mediaType") instanceof String mt ? mt : null);
  }

  /**
   * The media type to serve a manifest with, as the proxy chooses it for a manifest registry.ollama.ai sent as
   * text/plain: its own {@code mediaType} when that is a manifest type, else Docker v2.
   */
  static String contentType(byte[] bytes) {
    try {
      Object mt = new JsonObject(Buffer.buffer(bytes)).getValue("mediaType");
      if (mt instanceof String s && MANIFEST_TYPES.contains(s)) {
        return s;
      }
    } catch (RuntimeException e) {
      // parse() already refused it
    }
    return DOCKER_V2;
  }
}
