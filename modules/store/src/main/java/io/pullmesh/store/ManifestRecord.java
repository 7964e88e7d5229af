package io.pullmesh.store;

import io.pullmesh.core.Digest;

/**
 * A manifest exactly as the upstream sent it: {@code bytes} are never rewritten, since the digest of a
 * manifest is over its bytes.
 *
 * @param contentType the media type to send with it
 * @param fetchedAt epoch ms when it was fetched from upstream
 */
public record ManifestRecord(Digest digest, String contentType, byte[] bytes, long fetchedAt) {}
