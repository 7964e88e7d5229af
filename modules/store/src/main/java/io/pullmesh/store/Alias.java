package io.pullmesh.store;

import io.pullmesh.core.Digest;
import io.pullmesh.core.RepositoryName;

/**
 * A name that serves another model's manifest: {@code team/default:latest} for {@code library/qwen2.5:7b}, so users
 * pull a stable name and the team chooses what it means.
 *
 * @param targetTag the tag to follow (null when {@code targetDigest} fixes the manifest)
 * @param targetDigest a manifest digest the alias is pinned to (null to follow {@code targetTag})
 */
public record Alias(RepositoryName repository, String tag, RepositoryName targetRepository, String targetTag, Digest targetDigest, long updatedAt) {
  public Alias {
    if ((targetTag == null) == (targetDigest == null)) {
      throw new IllegalArgumentException("an alias targets a tag or a digest, exactly one of them");
    }
  }

  public String name() {
    return repository + ":" + tag;
  }

  /** {@code library/qwen2.5:7b} or {@code library/qwen2.5@sha256:...}. */
  public String target() {
    return targetRepository + (targetDigest != null ? "@" + targetDigest : ":" + targetTag);
  }
}
