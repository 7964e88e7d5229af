package io.pullmesh.testkit.client;

import io.pullmesh.core.Digest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * What a successful {@link XTransferLikeClient#download} or {@link XTransferLikeClient#pull} did.
 *
 * @param blobs per blob, in the order given (for a pull: layers, then the config)
 * @param manifestDigest SHA-256 of the manifest bytes as received; null for a bare download
 * @param manifestPath where the manifest was written; null for a bare download
 * @param elapsed wall time
 */
public record XTransferResult(List<XTransferBlobResult> blobs, Digest manifestDigest, Path manifestPath,
    Duration elapsed) {

  public XTransferResult {
    blobs = List.copyOf(blobs);
  }

  /** Declared bytes of all blobs. */
  public long totalBytes() {
    return blobs.stream().mapToLong(XTransferBlobResult::size).sum();
  }

  /** Body bytes read off the wire for all blobs (see {@link XTransferBlobResult#bytesReceived()}). */
  public long bytesReceived() {
    return blobs.stream().mapToLong(XTransferBlobResult::bytesReceived).sum();
  }

  public long alreadyPresent() {
    return blobs.stream().filter(XTransferBlobResult::alreadyPresent).count();
  }

  public int attempts() {
    return blobs.stream().mapToInt(XTransferBlobResult::attempts).sum();
  }
}
