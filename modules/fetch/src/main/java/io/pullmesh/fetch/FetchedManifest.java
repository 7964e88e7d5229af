package io.pullmesh.fetch;

import io.pullmesh.core.Digest;

/**
 * A manifest as upstream sent it.
 *
 * @param bytes the body, unchanged
 * @param contentType the media type to serve it with (upstream's, or the manifest's own {@code mediaType}
 *     when upstream says {@code text/plain} as registry.ollama.ai does)
 * @param digest sha256 of {@code bytes}
 */
public record FetchedManifest(byte[] bytes, String contentType, Digest digest) {}
