package io.pullmesh.store.eviction;

import io.pullmesh.core.Digest;
import java.util.List;

/**
 * Decides which blobs to remove when the cache must free space. A pure function: no I/O, no clock of its own
 * (time comes in as {@code nowMillis}), no state changed by a call, the same answer for the same arguments
 * whatever the order of {@code candidates}. Implementations are immutable and thread-safe.
 *
 * <p>Everything a policy ranks by is already in the index: each blob's size, commit time, last access and
 * hit count ({@link EvictionCandidate}). The caller keeps those up to date as it does today (a hit sets
 * the last access and adds one hit; a commit starts a record at zero hits) and needs to persist nothing
 * else for any policy in this package.
 */
public interface EvictionPolicy {

  /**
   * Chooses the blobs to remove, least valuable first.
   *
   * <p>The answer is the shortest prefix of this policy's eviction order whose sizes add up to at least
   * {@code bytesToFree}; if all candidates together are not enough, it is every candidate, in eviction
   * order (the caller then frees what it can and decides what to do about the rest). No candidate is named
   * twice, and none that was not passed in.
   *
   * @param candidates the blobs that may be removed now; the caller has already left out pinned blobs, blobs
   *     being served or downloaded, and those of the pull that needs the space. Distinct digests; any order.
   * @param bytesToFree how many bytes must be freed; zero or less means nothing to do (an empty answer)
   * @param nowMillis the store clock's current time, epoch milliseconds
   * @return digests to remove, in the order to remove them; never null, possibly empty
   * @throws IllegalArgumentException when a digest appears twice in {@code candidates}
   */
  List<Digest> selectVictims(List<EvictionCandidate> candidates, long bytesToFree, long nowMillis);
}
