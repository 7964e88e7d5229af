package io.pullmesh.testkit.registry;

/** What a request to the fake registry or CDN was, for {@link TrafficStats#requests(RequestKind)}. */
public enum RequestKind {
  /** {@code GET|HEAD /v2/<name>/manifests/<reference>} on the registry. */
  MANIFEST,
  /** {@code GET /v2/<name>/blobs/<digest>} on the registry (redirected, or served in direct mode). */
  BLOB_GET,
  /** {@code HEAD /v2/<name>/blobs/<digest>} on the registry. */
  BLOB_HEAD,
  /** {@code GET /token} on the registry. */
  TOKEN,
  /** A GET on the CDN with a {@code Range} header. */
  CDN_GET_RANGED,
  /** A GET on the CDN without a {@code Range} header. */
  CDN_GET_UNRANGED,
  /** A HEAD on the CDN. */
  CDN_HEAD,
  /** Anything else on either server ({@code /v2/}, {@code tags/list}, unknown paths). */
  OTHER
}
