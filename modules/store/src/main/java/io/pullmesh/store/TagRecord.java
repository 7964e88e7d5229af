package io.pullmesh.store;

import io.pullmesh.core.Digest;
import io.pullmesh.core.RepositoryName;

/**
 * Which manifest a tag pointed to when upstream was last asked.
 *
 * @param checkedAt epoch ms when upstream last confirmed (or set) this digest for the tag
 */
public record TagRecord(RepositoryName repository, String tag, Digest digest, long checkedAt) {}
