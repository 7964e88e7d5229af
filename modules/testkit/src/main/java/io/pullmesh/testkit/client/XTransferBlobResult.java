package io.pullmesh.testkit.client;

import io.pullmesh.core.Digest;
import java.time.Duration;

/**
 * What downloading one blob took, counted across all its attempts.
 *
 * @param digest the blob
 * @param size the size declared by the caller (the manifest)
 * @param alreadyPresent a file of that size was already at {@code sha256-<hex>}: no request was made
 * @param bytesReceived response body bytes read off the wire for this blob, every response counted: drained
 *     resolve bodies (redirect pages, 401 pages, and a whole blob answered 200 to the resolve GET), blob GET
 *     bodies kept or not, and bodies of failed attempts; compressed size when the server gzipped
 * @param resolveBytesReceived the part of {@code bytesReceived} drained by the resolve step
 * @param attempts times {@code downloadOnce} ran
 * @param stalls attempts that ended with "download stalled" (not counted against the retries)
 * @param slowRestarts attempts that ended with "download too slow"
 * @param resumedFrom {@code existingSize} of the last attempt that got a 206, else 0
 * @param finalUrl the URL the last blob GET went to, or null
 * @param lastError the last attempt's error, or null
 * @param elapsed wall time of this blob
 */
public record XTransferBlobResult(
    Digest digest, long size, boolean alreadyPresent, long bytesReceived, long resolveBytesReceived, int attempts,
    int stalls, int slowRestarts, long resumedFrom, String finalUrl, String lastError, Duration elapsed) {}
