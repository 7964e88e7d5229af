package io.pullmesh.store;

import io.pullmesh.core.RepositoryName;

/** {@code repository:tag} is pinned: the manifest it points to and all its blobs are never evicted. */
public record Pin(RepositoryName repository, String tag, long pinnedAt) {
  public String name() {
    return repository + ":" + tag;
  }
}
