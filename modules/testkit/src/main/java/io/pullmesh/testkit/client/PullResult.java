package io.pullmesh.testkit.client;

import io.pullmesh.core.Digest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * What a successful pull did.
 *
 * @param name the model pulled
 * @param manifestDigest SHA-256 of the manifest bytes as received
 * @param manifestPath where the manifest was written
 * @param blobs per blob, in download order (layers, then config)
 * @param elapsed wall time of the whole pull
 */
public record PullResult(
    ModelName name, Digest manifestDigest, Path manifestPath, List<BlobResult> blobs, Duration elapsed) {

  public PullResult {
    blobs = List.copyOf(blobs);
  }

  /** Bytes of all blobs. */
  public long totalBytes() {
    return blobs.stream().mapToLong(BlobResult::size).sum();
  }

  /** Part body bytes read from the network, all blobs. */
  public long bytesReceived() {
    return blobs.stream().mapToLong(BlobResult::bytesReceived).sum();
  }

  public int retries() {
    return blobs.stream().mapToInt(BlobResult::retries).sum();
  }

  public int stalls() {
    return blobs.stream().mapToInt(BlobResult::stalls).sum();
  }

  public long cacheHits() {
    return blobs.stream().filter(BlobResult::cacheHit).count();
  }
}
