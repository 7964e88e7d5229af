package io.pullmesh.testkit.client;

import java.util.List;

/**
 * A download or pull failed, with the message {@code ollama serve} would report (the CLI prints it after
 * {@code Error: }), e.g. {@code max retries exceeded: digest mismatch}, {@code max retries exceeded: status 404},
 * {@code pull model manifest: 412: <body>}, {@code pull model manifest: file does not exist}. A message starting
 * with {@code panic: } marks a case where real Ollama crashes instead of failing.
 */
public final class XTransferException extends Exception {
  private static final long serialVersionUID = 1L;

  private final transient List<XTransferBlobResult> blobs;

  XTransferException(String message, Throwable cause, List<XTransferBlobResult> blobs) {
    super(message, cause);
    this.blobs = List.copyOf(blobs);
  }

  /** Every blob's counters at the time of the failure (empty when the manifest step failed). */
  public List<XTransferBlobResult> blobs() {
    return blobs;
  }

  /** Real Ollama would have panicked (and {@code ollama serve} died) here. */
  public boolean panicked() {
    return getMessage() != null && getMessage().startsWith("panic: ");
  }
}
