package io.pullmesh.testkit.registry;

import io.pullmesh.core.Digest;
import io.pullmesh.core.Reference;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The fake registry's storage, standing for registry.ollama.ai's tag and blob store. What it publishes: tags pointing at models, and the manifests and blobs of every model it
 * knows. Like a real registry, moving a tag keeps the old model's manifest (by digest) and blobs fetchable;
 * only {@link #remove(FakeModel)} forgets them. Blobs are scoped by repository on the registry and global on
 * the CDN. Thread-safe.
 */
final class ModelCatalog {
  private final Map<String, Map<String, FakeModel>> tags = new HashMap<>();
  private final List<FakeModel> known = new ArrayList<>();

  synchronized void publish(String repository, String tag, FakeModel model) {
    String repo = RepositoryName.parse(repository).value();
    Reference.parse(tag);
    tags.computeIfAbsent(repo, r -> new HashMap<>()).put(tag, model);
    if (known.stream().noneMatch(m -> m == model)) {
      known.add(model);
    }
  }

  synchronized boolean unpublish(String repository, String tag) {
    Map<String, FakeModel> t = tags.get(RepositoryName.parse(repository).value());
    return t != null && t.remove(tag) != null;
  }

  synchronized void remove(FakeModel model) {
    known.removeIf(m -> m == model);
    for (Map<String, FakeModel> t : tags.values()) {
      t.values().removeIf(m -> m == model);
    }
  }

  synchronized void clear() {
    tags.clear();
    known.clear();
  }

  synchronized Optional<FakeModel> model(RepositoryName repository, Reference reference) {
    if (reference.isDigest()) {
      Digest d = reference.digest().orElseThrow();
      return known.stream()
          .filter(m -> m.repository().equals(repository.value()) && m.manifestDigest().equals(d))
          .findFirst();
    }
    Map<String, FakeModel> t = tags.get(repository.value());
    return Optional.ofNullable(t == null ? null : t.get(reference.tag().orElseThrow()));
  }

  /** A blob of a known model of this repository. */
  synchronized Optional<FakeBlob> blob(RepositoryName repository, Digest digest) {
    for (FakeModel m : known) {
      if (m.repository().equals(repository.value())) {
        Optional<FakeBlob> b = m.blob(digest);
        if (b.isPresent()) {
          return b;
        }
      }
    }
    return Optional.empty();
  }

  /** A blob of any known model (the CDN's bucket is not split by repository). */
  synchronized Optional<FakeBlob> blob(Digest digest) {
    for (FakeModel m : known) {
      Optional<FakeBlob> b = m.blob(digest);
      if (b.isPresent()) {
        return b;
      }
    }
    return Optional.empty();
  }
}
