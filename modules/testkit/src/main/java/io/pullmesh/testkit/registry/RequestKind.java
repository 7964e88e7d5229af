package io.pullmesh.testkit.registry;

/** What a request to the fake registry, CDN or hub was, for {@link TrafficStats#requests(RequestKind)}. */
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
  /** A GET on the hub (Hugging Face's signed blob URL, or ModelScope's blob download). */
  HUB_GET,
  /** A HEAD on the hub. */
  HUB_HEAD,
  /** Anything else on any server ({@code /v2/}, {@code tags/list}, unknown paths). */
  OTHER
}
