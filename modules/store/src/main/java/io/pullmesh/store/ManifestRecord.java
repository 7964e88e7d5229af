package io.pullmesh.store;

import io.pullmesh.core.Digest;
import java.util.List;

/**
 * A manifest exactly as the upstream sent it: {@code bytes} are never rewritten, since the digest of a
 * manifest is over its bytes.
 *
 * @param contentType the media type to send with it
 * @param fetchedAt epoch ms when it was fetched from upstream
 * @param references the blobs it names (config and layers), as parsed by whoever stored it; what pinning it protects
 */
public record ManifestRecord(Digest digest, String contentType, byte[] bytes, long fetchedAt, List<Digest> references) {
  public ManifestRecord {
    references = List.copyOf(references);
  }

  /** A manifest whose references are not known (not parsed). */
  public ManifestRecord(Digest digest, String contentType, byte[] bytes, long fetchedAt) {
    this(digest, contentType, bytes, fetchedAt, List.of());
  }
}
