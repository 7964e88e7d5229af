package io.pullmesh.seeder;

/** Bad usage or configuration: the message says what to fix; the command exits 2. */
final class UsageException extends Exception {
  private static final long serialVersionUID = 1L;

  UsageException(String message) {
    super(message);
  }
}
