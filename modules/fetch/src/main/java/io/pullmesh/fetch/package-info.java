/**
 * Getting bytes from upstream, once. {@link io.pullmesh.fetch.UpstreamRegistry} speaks to the registry
 * (manifests, the blob redirect to its CDN, bearer and basic auth); {@link io.pullmesh.fetch.DownloadManager}
 * keeps one {@link io.pullmesh.fetch.BlobDownload} per digest, which fetches pieces over parallel ranged
 * requests (pieces clients wait on first, {@link io.pullmesh.fetch.PieceScheduler}), serves readers as bytes
 * land, hashes the whole blob and commits it to the store only if it matches its digest.
 */
package io.pullmesh.fetch;
