package io.pullmesh.core;

import java.util.List;
import java.util.Locale;

/**
 * A repository name as it appears in {@code /v2/<name>/...}: one or more path components, each starting
 * with a letter or digit and made of letters, digits, {@code .}, {@code _} and {@code -}. Ollama names are
 * {@code <namespace>/<model>} ({@code library/qwen2.5}); OCI registries allow deeper paths.
 *
 * <p>Two spellings are kept. {@link #value()} is the cache key: lower case for registry.ollama.ai's names (Ollama
 * compares names case-insensitively, types/model/name.go {@code EqualFold}), but kept as written for a name qualified
 * by a registry host ({@code hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF}: at least three components, the first with a
 * dot, which no Ollama namespace may hold), whose registry is case-sensitive (Hugging Face repository names keep
 * their capitals). {@link #spelled()} is the name exactly as the client wrote it, for upstream requests: a registry
 * is asked for what the client asked for, never a lower-cased copy. Equality is by the cache key.
 *
 * <p>Components like {@code ..} or an encoded slash can never pass, so a name is always safe to use as a cache key.
 */
public final class RepositoryName {
  /** Total length limit from the distribution spec. */
  public static final int MAX_LENGTH = 255;
  private static final int MAX_COMPONENTS = 16;

  private final String value;
  private final String spelled;

  private RepositoryName(String value, String spelled) {
    this.value = value;
    this.spelled = spelled;
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
    return new RepositoryName(cacheKey(parts), text);
  }

  /** Lower case, except the components after a registry host ({@code hf.co/...}), which keep their case. */
  private static String cacheKey(String[] parts) {
    if (isHostQualified(parts)) {
      parts = parts.clone();
      parts[0] = parts[0].toLowerCase(Locale.ROOT);
      return String.join("/", parts);
    }
    return String.join("/", parts).toLowerCase(Locale.ROOT);
  }

  private static boolean isHostQualified(String[] parts) {
    return parts.length >= 3 && parts[0].indexOf('.') > 0;
  }

  /**
   * The registry host this name is qualified by ({@code hf.co} for {@code hf.co/user/repo}), lower case; null for an
   * unqualified name such as {@code library/qwen2.5}.
   */
  public String host() {
    int slash = value.indexOf('/');
    String first = value.substring(0, slash < 0 ? value.length() : slash);
    return isHostQualified(value.split("/", -1)) ? first : null;
  }

  /** The name without its registry host ({@code user/repo} for {@code hf.co/user/repo}); this name when unqualified. */
  public RepositoryName withoutHost() {
    if (host() == null) {
      return this;
    }
    return parse(spelled.substring(spelled.indexOf('/') + 1));
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

  /** The cache key: see the class comment. */
  public String value() {
    return value;
  }

  /** The name as the client wrote it: what upstream is asked for. */
  public String spelled() {
    return spelled;
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
