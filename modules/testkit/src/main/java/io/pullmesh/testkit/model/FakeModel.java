package io.pullmesh.testkit.model;

import io.pullmesh.core.Digest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * An Ollama model generated on disk by {@link ModelFixture}: stands for one tag of a model published on
 * registry.ollama.ai (its manifest and blobs). Immutable.
 */
public final class FakeModel {
  private final ModelFixture spec;
  private final Path dir;
  private final byte[] manifest;
  private final Digest manifestDigest;
  private final FakeBlob config;
  private final List<FakeBlob> layers;

  FakeModel(ModelFixture spec, Path dir, byte[] manifest, Digest manifestDigest, FakeBlob config, List<FakeBlob> layers) {
    this.spec = spec;
    this.dir = dir;
    this.manifest = manifest;
    this.manifestDigest = manifestDigest;
    this.config = config;
    this.layers = List.copyOf(layers);
  }

  /** {@code library/tiny}. */
  public String repository() {
    return spec.repository();
  }

  /** {@code latest}. */
  public String tag() {
    return spec.tag();
  }

  /** {@code library/tiny:latest}, the form {@code ollama pull} takes after the host. */
  public String reference() {
    return repository() + ":" + tag();
  }

  /** The manifest bytes exactly as the registry serves them (a copy). */
  public byte[] manifestBytes() {
    return manifest.clone();
  }

  public Digest manifestDigest() {
    return manifestDigest;
  }

  public FakeBlob config() {
    return config;
  }

  /** Layers in manifest order. */
  public List<FakeBlob> layers() {
    return layers;
  }

  /** Layers in manifest order, then the config: the order Ollama downloads them in. */
  public List<FakeBlob> blobs() {
    List<FakeBlob> all = new ArrayList<>(layers.size() + 1);
    all.addAll(layers);
    all.add(config);
    return all;
  }

  public Optional<FakeBlob> blob(Digest digest) {
    return blobs().stream().filter(b -> b.digest().equals(digest)).findFirst();
  }

  /** The biggest layer: usually the model weights. */
  public FakeBlob largestLayer() {
    FakeBlob max = layers.get(0);
    for (FakeBlob b : layers) {
      if (b.size() > max.size()) {
        max = b;
      }
    }
    return max;
  }

  /** Bytes of all blobs, layers and config (not the manifest). */
  public long totalBytes() {
    long sum = 0;
    for (FakeBlob b : blobs()) {
      sum += b.size();
    }
    return sum;
  }

  /** The directory the blobs were written under ({@code <dir>/blobs}). */
  public Path directory() {
    return dir;
  }

  /** The seed the bytes were generated from. */
  public long seed() {
    return spec.seed();
  }

  /**
   * The same name, tag and layer shape with different bytes: what the registry serves after the tag moved to
   * a new build. Writes new blobs next to this model's (blocking I/O).
   */
  public FakeModel nextVersion() {
    return spec.withSeed(spec.seed() * 31 + 17).create(dir);
  }

  @Override
  public String toString() {
    return reference() + "@" + manifestDigest.shortHex() + " (" + layers.size() + " layers, " + totalBytes() + " bytes)";
  }
}
