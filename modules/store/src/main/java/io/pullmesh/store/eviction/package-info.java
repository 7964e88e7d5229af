/**
 * Which cached blobs to remove when the cache must make room: pure decisions, apart from the I/O that
 * carries them out (in the manner of OkHttp's {@code CacheStrategy}). An {@link
 * io.pullmesh.store.eviction.EvictionPolicy} is a function of the evictable blobs' index records, the bytes
 * to free and the current time; it reads no clock, touches no file and keeps no state, so it is tested with
 * hand-made candidates and replayed against recorded access traces.
 *
 * <p>{@link io.pullmesh.store.eviction.DecayedFrequencyPolicy} is the pullmesh policy (value per byte from a
 * decayed request count: scan resistant, ageing); {@link io.pullmesh.store.eviction.LruPolicy} is the
 * baseline it is measured against. The caller (the store) decides <em>when</em> to ask and <em>which</em>
 * blobs may be asked about: never a pinned blob, one being served or downloaded, or one of the pull that
 * needs the room. docs/eviction.md describes the policy for operators, with its measurements.
 */
package io.pullmesh.store.eviction;
