package io.pullmesh.proxy.cli;

/** Ends a command with a message for stderr and an exit code (1 the operation failed, 2 bad usage or refused). */
final class CliException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Exit codes of every command: done; the operation failed or found problems; bad usage or configuration. */
  static final int OK = 0;
  static final int FAILED = 1;
  static final int USAGE = 2;

  private final int exitCode;

  CliException(int exitCode, String message) {
    super(message);
    this.exitCode = exitCode;
  }

  static CliException usage(String message) {
    return new CliException(USAGE, message);
  }

  int exitCode() {
    return exitCode;
  }
}
