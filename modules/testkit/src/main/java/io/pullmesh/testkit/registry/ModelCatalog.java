package io.pullmesh.testkit.registry;

import io.pullmesh.core.Digest;
import io.pullmesh.core.Reference;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The fake registry's storage, standing for registry.ollama.ai's tag and blob store. What it publishes: tags pointing
 * at models, and the manifests and blobs of every model it knows. Like a real registry, moving a tag keeps the old
 * model's manifest (by digest) and blobs fetchable; only {@link #remove(FakeModel)} forgets them. Blobs are scoped by
 * repository on the registry (a model belongs to every repository it was published under) and global on the CDN.
 *
 * <p>Names: by default a repository matches case-insensitively ({@link RepositoryName#value()}: Ollama compares
 * names with {@code EqualFold}, types/model/name.go), and a model also belongs to its own {@link
 * FakeModel#repository()}. With case-sensitive names ({@link RepositoryName#spelled()}: Hugging Face repositories
 * keep their capitals, hub-docs docs/hub/ollama.md {@code hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF}) a repository
 * matches only as spelled where it was published.
 *
 * <p>Tags: exact by default. With quant tags (Hugging Face) a tag matches case-insensitively ("the quantization name
 * is case-insensitive", hub-docs docs/hub/ollama.md; Ollama sends the tag as typed, server/images.go
 * {@code pullModelManifest}), and an unpublished {@code latest} means {@code Q4_K_M} when the repository has it, else
 * its first published tag ("By default, the Q4_K_M quantization scheme is used, when it's present inside the model
 * repo. If not, we default to picking one reasonable quant type", same page). Thread-safe.
 */
final class ModelCatalog {
  private final boolean caseSensitiveNames;
  private final boolean quantTags;
  private final Map<String, Map<String, FakeModel>> tags = new HashMap<>();
  private final Map<String, List<FakeModel>> members = new HashMap<>();
  private final List<FakeModel> known = new ArrayList<>();

  ModelCatalog(boolean caseSensitiveNames, boolean quantTags) {
    this.caseSensitiveNames = caseSensitiveNames;
    this.quantTags = quantTags;
  }

  boolean caseSensitiveNames() {
    return caseSensitiveNames;
  }

  /** The key a repository name is stored and matched under. */
  String key(RepositoryName name) {
    return caseSensitiveNames ? name.spelled() : name.value();
  }

  String key(String repository) {
    return key(RepositoryName.parse(repository));
  }

  synchronized void publish(String repository, String tag, FakeModel model) {
    String repo = key(repository);
    Reference.parse(tag);
    tags.computeIfAbsent(repo, r -> new LinkedHashMap<>()).put(tag, model);
    List<FakeModel> in = members.computeIfAbsent(repo, r -> new ArrayList<>());
    if (in.stream().noneMatch(m -> m == model)) {
      in.add(model);
    }
    if (known.stream().noneMatch(m -> m == model)) {
      known.add(model);
    }
  }

  synchronized boolean unpublish(String repository, String tag) {
    Map<String, FakeModel> t = tags.get(key(repository));
    return t != null && t.remove(tag) != null;
  }

  synchronized void remove(FakeModel model) {
    known.removeIf(m -> m == model);
    for (Map<String, FakeModel> t : tags.values()) {
      t.values().removeIf(m -> m == model);
    }
    for (List<FakeModel> in : members.values()) {
      in.removeIf(m -> m == model);
    }
  }

  synchronized void clear() {
    tags.clear();
    members.clear();
    known.clear();
  }

  /** Whether any tag was ever published under this repository (and its models not all removed). */
  synchronized boolean hasRepository(RepositoryName repository) {
    Map<String, FakeModel> t = tags.get(key(repository));
    return t != null && !t.isEmpty();
  }

  synchronized Optional<FakeModel> model(RepositoryName repository, Reference reference) {
    if (reference.isDigest()) {
      Digest d = reference.digest().orElseThrow();
      return modelsOf(key(repository)).stream().filter(m -> m.manifestDigest().equals(d)).findFirst();
    }
    Map<String, FakeModel> t = tags.get(key(repository));
    return Optional.ofNullable(t == null ? null : lookUpTag(t, reference.tag().orElseThrow()));
  }

  private FakeModel lookUpTag(Map<String, FakeModel> t, String tag) {
    FakeModel exact = t.get(tag);
    if (exact != null || !quantTags) {
      return exact;
    }
    for (Map.Entry<String, FakeModel> e : t.entrySet()) {
      if (e.getKey().equalsIgnoreCase(tag)) {
        return e.getValue();
      }
    }
    if (tag.equalsIgnoreCase("latest") && !t.isEmpty()) {
      FakeModel q4km = lookUpTag(t, "Q4_K_M");
      return q4km != null ? q4km : t.values().iterator().next();
    }
    return null;
  }

  /** A blob of a known model of this repository. */
  synchronized Optional<FakeBlob> blob(RepositoryName repository, Digest digest) {
    for (FakeModel m : modelsOf(key(repository))) {
      Optional<FakeBlob> b = m.blob(digest);
      if (b.isPresent()) {
        return b;
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

  /** The models of a repository: published there, or (case-insensitive names only) named so by their fixture. */
  private List<FakeModel> modelsOf(String repo) {
    List<FakeModel> out = new ArrayList<>(members.getOrDefault(repo, List.of()));
    if (!caseSensitiveNames) {
      Set<FakeModel> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
      seen.addAll(out);
      for (FakeModel m : known) {
        if (!seen.contains(m) && key(m.repository()).equals(repo)) {
          out.add(m);
        }
      }
    }
    return out;
  }
}
