package io.pullmesh.store.eviction;

import io.pullmesh.core.Digest;
import java.util.Objects;

/**
 * What an {@link EvictionPolicy} knows of one blob it may remove: the fields the index keeps for every
 * committed blob ({@code BlobRecord}: digest, size, createdAt, lastAccess, hits), and nothing else.
 *
 * <p><b>Only evictable blobs are candidates.</b> The caller filters out, before calling a policy, every blob
 * that must not be removed now: pinned blobs, blobs being served (an open reader or a sendfile in progress),
 * blobs being downloaded, and the blobs of the pull that asked for the space. A policy never checks for these;
 * whatever it is given it may return.
 *
 * <p>Times are epoch milliseconds of the store's clock. A clock that stepped backwards may leave
 * {@code lastAccessMillis} or {@code createdMillis} after the {@code now} of a later call, or
 * {@code lastAccessMillis} before {@code createdMillis}; policies tolerate this (they clamp), so the
 * constructor does not refuse it.
 *
 * @param digest the blob
 * @param size bytes the blob occupies (and would cost to fetch again); {@code >= 0}
 * @param lastAccessMillis when the blob was last served (its commit time if it never was)
 * @param accessCount how many times the blob was served from the cache ({@code BlobRecord.hits}); the
 *     download that brought it in is not counted, so a blob fetched once and never requested again has 0
 * @param createdMillis when the blob was committed
 */
public record EvictionCandidate(Digest digest, long size, long lastAccessMillis, long accessCount,
    long createdMillis) {

  /**
   * Checks the values.
   *
   * @throws IllegalArgumentException when {@code size} or {@code accessCount} is negative
   */
  public EvictionCandidate {
    Objects.requireNonNull(digest, "digest");
    if (size < 0) {
      throw new IllegalArgumentException("size must be >= 0, got " + size + " for " + digest);
    }
    if (accessCount < 0) {
      throw new IllegalArgumentException("accessCount must be >= 0, got " + accessCount + " for " + digest);
    }
  }

  /** Requests this blob has answered: the download that brought it in plus every cache hit since. */
  public long requests() {
    return accessCount == Long.MAX_VALUE ? accessCount : accessCount + 1;
  }
}
