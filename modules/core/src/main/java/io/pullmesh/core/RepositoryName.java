package io.pullmesh.core;

import java.util.List;
import java.util.Locale;

/**
 * A repository name as it appears in {@code /v2/<name>/...}: one or more path components, each starting
 * with a letter or digit and made of letters, digits, {@code .}, {@code _} and {@code -}. Ollama names are
 * {@code <namespace>/<model>} ({@code library/qwen2.5}); OCI registries allow deeper paths.
 *
 * <p>Names are case-insensitive in Ollama, so the canonical form is lower case. Components like {@code ..}
 * or an encoded slash can never pass, so a name is always safe to use as a cache key.
 */
public final class RepositoryName {
  /** Total length limit from the distribution spec. */
  public static final int MAX_LENGTH = 255;
  private static final int MAX_COMPONENTS = 16;

  private final String value;

  private RepositoryName(String value) {
    this.value = value;
  }

  /**
   * @throws IllegalArgumentException when a component is empty, starts with a separator, holds a character
   *     outside {@code [A-Za-z0-9._-]}, or the name is longer than 255 characters
   */
  public static RepositoryName parse(String text) {
    if (text == null || text.isEmpty() || text.length() > MAX_LENGTH) {
      throw invalid(text, "1 to " + MAX_LENGTH + " characters");
    }
    String[] parts = text.split("/", -1);
    if (parts.length > MAX_COMPONENTS) {
      throw invalid(text, "at most " + MAX_COMPONENTS + " path components");
    }
    for (String part : parts) {
      if (!isValidComponent(part)) {
        throw invalid(text, "components of [A-Za-z0-9._-] starting with a letter or digit, separated by '/'");
      }
    }
    return new RepositoryName(text.toLowerCase(Locale.ROOT));
  }

  /** Builds {@code namespace/model} from parts already split, as the route parser does. */
  public static RepositoryName of(List<String> components) {
    return parse(String.join("/", components));
  }

  static boolean isValidComponent(String part) {
    if (part.isEmpty() || part.length() > 128) {
      return false;
    }
    char first = part.charAt(0);
    if (!Character.isLetterOrDigit(first) || first > 0x7f) {
      return false;
    }
    for (int i = 1; i < part.length(); i++) {
      char c = part.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '.' || c == '_' || c == '-';
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  private static IllegalArgumentException invalid(String text, String expected) {
    return new IllegalArgumentException(
        "repository name: " + Digest.quote(text) + " (expected: " + expected + ")");
  }

  public String value() {
    return value;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RepositoryName && ((RepositoryName) o).value.equals(value);
  }

  @Override
  public int hashCode() {
    return value.hashCode();
  }

  @Override
  public String toString() {
    return value;
  }
}
