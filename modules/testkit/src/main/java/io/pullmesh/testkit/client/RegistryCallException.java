package io.pullmesh.testkit.client;

import java.io.IOException;

/** A registry call failed the way Ollama's {@code makeRequestWithRetry} reports it; the message is Go's. */
final class RegistryCallException extends IOException {
  private static final long serialVersionUID = 1L;

  private final int status;

  RegistryCallException(int status, String message) {
    super(message);
    this.status = status;
  }

  /** The HTTP status behind the failure, 0 when none. */
  int status() {
    return status;
  }
}
