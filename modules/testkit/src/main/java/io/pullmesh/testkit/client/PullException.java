package io.pullmesh.testkit.client;

import java.util.List;

/**
 * A pull failed, with the message Ollama would print (e.g. {@code digest mismatch, file must be downloaded
 * again: want ..., got ...}, {@code http: no Location header in response}, {@code unexpected status code 302},
 * {@code max retries exceeded: ...}, {@code pull model manifest: file does not exist}).
 */
public final class PullException extends Exception {
  private static final long serialVersionUID = 1L;

  private final transient List<BlobResult> blobsSoFar;

  PullException(String message, Throwable cause, List<BlobResult> blobsSoFar) {
    super(message, cause);
    this.blobsSoFar = List.copyOf(blobsSoFar);
  }

  /** The blobs finished before the failure (for a digest mismatch: all of them, downloaded but not verified). */
  public List<BlobResult> blobsSoFar() {
    return blobsSoFar;
  }
}
