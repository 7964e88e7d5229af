package io.pullmesh.proxy;

import io.pullmesh.core.Digest;
import io.pullmesh.core.Reference;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.store.Alias;
import io.pullmesh.store.Catalog;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Names that serve another model ({@code team/default:latest} -> {@code library/qwen2.5:7b}). Kept in the
 * catalog (so they survive restarts) and in memory (so every request can check them without I/O); changing
 * one takes effect for the next request.
 */
final class Aliases {
  private final Catalog catalog;
  private final Clock clock;
  private final Map<String, Alias> byName = new ConcurrentHashMap<>();

  /** Loads the stored aliases. Blocking. */
  Aliases(Catalog catalog, Clock clock) {
    this.catalog = catalog;
    this.clock = clock;
    for (Alias a : catalog.aliases()) {
      byName.put(a.name(), a);
    }
  }

  /**
   * Parses {@code name:tag} and {@code target} ({@code repo:tag} or {@code repo@sha256:...}) into an alias.
   *
   * @throws IllegalArgumentException with what is wrong
   */
  Alias parse(String name, String target) {
    NameTag n = NameTag.parse(name);
    checkNotATarget(n);
    String t = target.strip();
    int at = t.indexOf('@');
    if (at > 0) {
      Digest d = Digest.parse(t.substring(at + 1));
      // the same short form as names: qwen2.5@sha256:... is library/qwen2.5
      return new Alias(n.repository(), n.tag(), NameTag.repository(t.substring(0, at)), null, d, clock.millis());
    }
    NameTag tt = NameTag.parse(t);
    if (tt.repository().equals(n.repository()) && tt.tag().equals(n.tag())) {
      throw new IllegalArgumentException("alias " + name + " cannot point to itself");
    }
    Alias chained = byName.get(tt.toString());
    if (chained != null) {
      // manifests are resolved through one alias only: a chain would send the inner alias name upstream
      throw new IllegalArgumentException("target " + tt + " is itself an alias (of " + chained.target() + "); point to the model instead");
    }
    return new Alias(n.repository(), n.tag(), tt.repository(), tt.tag(), null, clock.millis());
  }

  /** Rejects an alias whose name other aliases point to (it would make them a chain). */
  private void checkNotATarget(NameTag n) {
    for (Alias a : byName.values()) {
      if (a.targetTag() != null && a.targetRepository().equals(n.repository()) && a.targetTag().equals(n.tag())) {
        throw new IllegalArgumentException(n + " is the target of alias " + a.name() + "; an alias cannot be the target of another");
      }
    }
  }

  /** Adds or replaces an alias. Blocking. */
  void put(Alias a) {
    catalog.putAlias(a);
    byName.put(a.name(), a);
  }

  /** @return whether it existed. Blocking. */
  boolean remove(RepositoryName repo, String tag) {
    boolean was = catalog.removeAlias(repo, tag);
    byName.remove(repo + ":" + tag);
    return was;
  }

  Optional<Alias> get(RepositoryName repo, String tag) {
    return Optional.ofNullable(byName.get(repo + ":" + tag));
  }

  List<Alias> all() {
    return new ArrayList<>(byName.values());
  }

  /** Whether some alias lives in {@code repo} (blob requests there must go upstream under a target's name). */
  boolean isAliasRepository(RepositoryName repo) {
    for (Alias a : byName.values()) {
      if (a.repository().equals(repo)) {
        return true;
      }
    }
    return false;
  }

  /**
   * The repository to fetch {@code digest} from upstream when a client asks for it under {@code repo}: for an
   * alias repository, the target whose manifest names the blob (or the first target). Blocking.
   */
  RepositoryName upstreamRepository(RepositoryName repo, Digest digest) {
    RepositoryName first = null;
    for (Alias a : byName.values()) {
      if (!a.repository().equals(repo)) {
        continue;
      }
      if (first == null) {
        first = a.targetRepository();
      }
      Optional<Digest> manifest = a.targetDigest() != null ? Optional.of(a.targetDigest())
          : catalog.tag(a.targetRepository(), a.targetTag()).map(t -> t.digest());
      if (manifest.flatMap(catalog::manifest).map(m -> m.references().contains(digest)).orElse(false)) {
        return a.targetRepository();
      }
    }
    return first != null ? first : repo;
  }

  /** {@code repository:tag} as users write it ({@code qwen2.5:7b} means {@code library/qwen2.5:7b}). */
  record NameTag(RepositoryName repository, String tag) {
    static NameTag parse(String text) {
      String s = text == null ? "" : text.strip();
      if (s.contains("@") || s.contains(Digest.ALGORITHM + ":")) {
        // without this, sha256:<hex> would read as the model "sha256" with a 64-character tag
        throw new IllegalArgumentException("expected name:tag, got a digest: " + text);
      }
      int colon = s.lastIndexOf(':');
      int slash = s.lastIndexOf('/');
      String repo = colon > slash ? s.substring(0, colon) : s;
      String tag = colon > slash ? s.substring(colon + 1) : "latest";
      Reference ref = Reference.parse(tag);
      if (ref.isDigest()) {
        throw new IllegalArgumentException("expected name:tag, got a digest: " + text);
      }
      return new NameTag(repository(repo), tag);
    }

    /** {@code qwen2.5} means {@code library/qwen2.5}, as in Ollama. */
    static RepositoryName repository(String text) {
      return RepositoryName.parse(text.contains("/") ? text : "library/" + text);
    }

    @Override
    public String toString() {
      return repository + ":" + tag;
    }
  }
}
