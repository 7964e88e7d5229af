package io.pullmesh.seeder;

import io.pullmesh.core.Digest;
import io.pullmesh.core.Reference;
import io.pullmesh.core.RepositoryName;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * An Ollama models directory ({@code ~/.ollama/models}, or {@code $OLLAMA_MODELS}):
 *
 * <pre>
 *   manifests/&lt;host&gt;/&lt;namespace&gt;/&lt;model&gt;/&lt;tag&gt;   the manifest bytes as the registry sent them
 *   blobs/sha256-&lt;hex&gt;                            each layer and config blob, named by its SHA-256
 * </pre>
 */
final class OllamaDir {
  private OllamaDir() {}

  /** One manifest file and the name its path gives it. */
  record ManifestFile(Path file, String host, ModelName name) {}

  /** What a walk of {@code manifests/} found. */
  record Listing(List<ManifestFile> manifests, List<Path> unrecognised) {}

  /**
   * The models directory {@code dir} is or holds: itself when it has {@code manifests/} or {@code blobs/}, else its
   * {@code models/} (for {@code ~/.ollama}); null when neither.
   */
  static Path resolve(Path dir) {
    if (Files.isDirectory(dir.resolve("manifests")) || Files.isDirectory(dir.resolve("blobs"))) {
      return dir;
    }
    Path models = dir.resolve("models");
    if (Files.isDirectory(models.resolve("manifests"))) {
      return models;
    }
    return null;
  }

  static Path blob(Path root, Digest d) {
    return root.resolve("blobs").resolve("sha256-" + d.hex());
  }

  /** Where a model's manifest goes: under its own registry host's directory if it has one, else under {@code host}'s. */
  static Path manifest(Path root, String host, ModelName name) {
    return root.resolve("manifests").resolve(name.host() != null ? name.host() : host).resolve(name.namespace()).resolve(name.model())
        .resolve(name.tag());
  }

  /** Every regular file under {@code manifests/}, sorted; those not at {@code <host>/<ns>/<model>/<tag>} apart. */
  static Listing manifests(Path root) throws IOException {
    Path base = root.resolve("manifests");
    List<ManifestFile> found = new ArrayList<>();
    List<Path> other = new ArrayList<>();
    if (!Files.isDirectory(base)) {
      return new Listing(found, other);
    }
    List<Path> files;
    try (Stream<Path> s = Files.walk(base)) {
      files = s.filter(Files::isRegularFile).sorted().toList();
    }
    for (Path f : files) {
      Path rel = base.relativize(f);
      if (rel.getNameCount() != 4 || rel.getFileName().toString().startsWith(".")) {
        other.add(f);
        continue;
      }
      String host = rel.getName(0).toString();
      try {
        RepositoryName repo = RepositoryName.parse(rel.getName(1) + "/" + rel.getName(2));
        String tag = rel.getName(3).toString();
        if (Reference.parse(tag).isDigest()) {
          throw new IllegalArgumentException();
        }
        found.add(new ManifestFile(f, host, new ModelName(repo, tag)));
      } catch (IllegalArgumentException e) {
        other.add(f);
      }
    }
    return new Listing(found, other);
  }
}
