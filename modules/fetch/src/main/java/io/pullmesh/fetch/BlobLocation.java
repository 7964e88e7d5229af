package io.pullmesh.fetch;

import io.pullmesh.core.Digest;
import io.pullmesh.core.RepositoryName;
import java.net.URI;

/**
 * Where a blob's bytes can be fetched from: the registry's own URL or, after its redirect, the CDN URL
 * (a presigned URL whose query is a signature: it is used, never stored as a key).
 *
 * @param url the URL ranged requests go to
 * @param size the blob size the upstream reported
 * @param rangeSupported false when the upstream answered a ranged request with the whole body
 * @param userAgent the User-Agent it was located with (the client's), sent again with its piece requests; null for the
 *     configured one
 */
public record BlobLocation(RepositoryName repository, Digest digest, URI url, long size, boolean rangeSupported, String userAgent) {

  /** The URL without its query string, for logs: presigned signatures stay out of them. */
  public String safeUrl() {
    return url.getScheme() + "://" + url.getRawAuthority() + url.getRawPath() + (url.getRawQuery() == null ? "" : "?...");
  }
}
