package io.pullmesh.proxy;

/** A setting is wrong; the message names it and says what would be right. */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ConfigException(String message) {
    super(message);
  }
}
