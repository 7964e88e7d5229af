package io.pullmesh.testkit.client;

import io.pullmesh.core.Digest;
import java.time.Duration;

/**
 * What pulling one blob took.
 *
 * @param digest the blob
 * @param size its size per the HEAD's Content-Length (or the file's size on a cache hit)
 * @param cacheHit the blob was already on disk: no request was made
 * @param bytesReceived part body bytes read from the network, kept or not (a 200 full body counts in full
 *     only as far as it was read)
 * @param parts how many parts it was split into
 * @param retries failed part tries (stalls excluded)
 * @param stalls part tries restarted by the stall watchdog
 * @param directUrl the URL the parts were fetched from, or null on a cache hit
 * @param elapsed wall time of this blob
 */
public record BlobResult(
    Digest digest, long size, boolean cacheHit, long bytesReceived, int parts, int retries, int stalls,
    String directUrl, Duration elapsed) {}
