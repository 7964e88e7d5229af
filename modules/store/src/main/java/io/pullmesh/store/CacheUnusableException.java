package io.pullmesh.store;

/** The cache directory cannot be used; the message says why and what to change. */
public class CacheUnusableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public CacheUnusableException(String message, Throwable cause) {
    super(message, cause);
  }
}
