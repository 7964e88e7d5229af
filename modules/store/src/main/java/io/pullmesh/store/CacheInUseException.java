package io.pullmesh.store;

/** Another process (a running proxy) holds the cache directory's lock. */
public final class CacheInUseException extends CacheUnusableException {
  private static final long serialVersionUID = 1L;

  public CacheInUseException(String message) {
    super(message, null);
  }
}
