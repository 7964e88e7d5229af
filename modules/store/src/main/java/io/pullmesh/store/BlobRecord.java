package io.pullmesh.store;

import io.pullmesh.core.Digest;

/**
 * What the index knows of a committed blob. Times are epoch milliseconds from the store's clock.
 *
 * @param hits how many times a client was served this blob from the cache
 */
public record BlobRecord(Digest digest, long size, long createdAt, long lastAccess, long hits) {
  BlobRecord touched(long now) {
    return new BlobRecord(digest, size, createdAt, now, hits + 1);
  }
}
