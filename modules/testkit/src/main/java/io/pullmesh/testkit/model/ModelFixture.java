package io.pullmesh.testkit.model;

import io.pullmesh.core.Digest;
import io.pullmesh.core.Reference;
import io.pullmesh.core.RepositoryName;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Describes and generates an Ollama-format model: which layers (media type and size), under which name and
 * tag, from which seed. The same description and seed always give the same bytes and digests; another seed
 * gives different ones (see {@link FakeModel#nextVersion()}).
 *
 * <pre>{@code
 * FakeModel tiny = ModelFixture.of("library/tiny", "latest")
 *     .layer(MediaTypes.MODEL, 4 << 20)
 *     .layer(MediaTypes.TEMPLATE, 300)
 *     .layer(MediaTypes.PARAMS, 80)
 *     .seed(42)
 *     .create(tempDir);
 * }</pre>
 *
 * <p>Blobs are written to {@code <dir>/blobs/sha256-<hex>}, the layout of {@code ~/.ollama/models/blobs}. The
 * first layer is usually the model weights; the generator does not enforce any order.
 */
public final class ModelFixture {
  /** One layer to generate. */
  public record LayerSpec(String mediaType, long size) {
    public LayerSpec {
      if (size < 0) {
        throw new IllegalArgumentException("layer size must be >= 0, got " + size);
      }
    }
  }

  private final String repository;
  private final String tag;
  private final List<LayerSpec> layers = new ArrayList<>();
  private long seed = 1;

  private ModelFixture(String repository, String tag) {
    this.repository = RepositoryName.parse(repository).value();
    Reference ref = Reference.parse(tag);
    if (ref.isDigest()) {
      throw new IllegalArgumentException("tag: expected a tag, got a digest " + tag);
    }
    this.tag = tag;
  }

  /** A model named e.g. {@code library/tiny} with tag {@code latest} and no layers yet. */
  public static ModelFixture of(String repository, String tag) {
    return new ModelFixture(repository, tag);
  }

  /**
   * {@code library/tiny:latest}: a 3 MiB model layer, a template and a params layer (total a little over
   * 3 MiB plus the config).
   */
  public static ModelFixture tiny() {
    return of("library/tiny", "latest")
        .layer(MediaTypes.MODEL, 3L << 20)
        .layer(MediaTypes.TEMPLATE, 311)
        .layer(MediaTypes.PARAMS, 97);
  }

  public ModelFixture layer(String mediaType, long size) {
    layers.add(new LayerSpec(mediaType, size));
    return this;
  }

  public ModelFixture seed(long seed) {
    this.seed = seed;
    return this;
  }

  /** A copy with another seed: same shape, different bytes. */
  ModelFixture withSeed(long newSeed) {
    ModelFixture copy = new ModelFixture(repository, tag);
    copy.layers.addAll(layers);
    copy.seed = newSeed;
    return copy;
  }

  List<LayerSpec> layers() {
    return List.copyOf(layers);
  }

  long seed() {
    return seed;
  }

  /**
   * Writes the blobs into {@code dir/blobs} (blocking I/O: call it from a test thread, never an event loop).
   *
   * @throws java.io.UncheckedIOException when the directory cannot be written
   */
  public FakeModel create(Path dir) {
    if (layers.isEmpty()) {
      throw new IllegalStateException("a model needs at least one layer: call layer(mediaType, size)");
    }
    Path blobDir = dir.resolve("blobs");
    List<FakeBlob> written = new ArrayList<>(layers.size());
    for (int i = 0; i < layers.size(); i++) {
      LayerSpec spec = layers.get(i);
      long layerSeed = seed * 0x9E3779B97F4A7C15L + i;
      written.add(ContentGenerator.writeRandom(blobDir, layerSeed, spec.size(), spec.mediaType()));
    }
    byte[] configJson = configJson(written);
    FakeBlob config = ContentGenerator.writeBytes(blobDir, configJson, MediaTypes.CONFIG);
    byte[] manifest = manifestJson(config, written);
    Digest manifestDigest = Digest.ofBytes(ContentGenerator.sha256().digest(manifest));
    return new FakeModel(this, dir, manifest, manifestDigest, config, written);
  }

  private byte[] configJson(List<FakeBlob> written) {
    StringBuilder b = new StringBuilder(256);
    b.append("{\"model_format\":\"gguf\",\"model_family\":\"llama\",\"model_families\":[\"llama\"],")
        .append("\"model_type\":\"fake\",\"file_type\":\"F16\",\"fixture_seed\":").append(seed)
        .append(",\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[");
    for (int i = 0; i < written.size(); i++) {
      b.append(i == 0 ? "" : ",").append('"').append(written.get(i).digest()).append('"');
    }
    return b.append("]}}").toString().getBytes(StandardCharsets.UTF_8);
  }

  /** The manifest as registry.ollama.ai serves it: compact JSON, fields in this order. */
  static byte[] manifestJson(FakeBlob config, List<FakeBlob> layers) {
    StringBuilder b = new StringBuilder(512);
    b.append("{\"schemaVersion\":2,\"mediaType\":\"").append(MediaTypes.MANIFEST_V2).append("\",\"config\":");
    descriptor(b, config);
    b.append(",\"layers\":[");
    for (int i = 0; i < layers.size(); i++) {
      if (i > 0) {
        b.append(',');
      }
      descriptor(b, layers.get(i));
    }
    return b.append("]}").toString().getBytes(StandardCharsets.UTF_8);
  }

  private static void descriptor(StringBuilder b, FakeBlob blob) {
    b.append("{\"mediaType\":\"").append(blob.mediaType()).append("\",\"digest\":\"").append(blob.digest())
        .append("\",\"size\":").append(blob.size()).append('}');
  }

  String repository() {
    return repository;
  }

  String tag() {
    return tag;
  }
}
