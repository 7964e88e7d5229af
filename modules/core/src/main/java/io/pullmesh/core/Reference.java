package io.pullmesh.core;

import java.util.Optional;

/**
 * What follows {@code /manifests/}: a tag ({@code 7b}, {@code latest}) or a digest. Tags follow the
 * distribution spec, {@code [A-Za-z0-9_][A-Za-z0-9._-]{0,127}}, and keep their case (registries treat tags
 * case-sensitively, Ollama lower-cases before asking).
 */
public final class Reference {
  private final String tag;
  private final Digest digest;

  private Reference(String tag, Digest digest) {
    this.tag = tag;
    this.digest = digest;
  }

  /** @throws IllegalArgumentException for anything that is neither a valid tag nor a valid digest */
  public static Reference parse(String text) {
    if (text != null && text.startsWith(Digest.ALGORITHM + ":")) {
      return new Reference(null, Digest.parse(text));
    }
    if (text != null && text.contains(":")) {
      throw new IllegalArgumentException(
          "reference: " + Digest.quote(text) + " (expected: a tag or sha256:<64 lowercase hex>)");
    }
    if (!isValidTag(text)) {
      throw new IllegalArgumentException(
          "tag: " + Digest.quote(text) + " (expected: [A-Za-z0-9_][A-Za-z0-9._-]{0,127})");
    }
    return new Reference(text, null);
  }

  public static Reference of(Digest digest) {
    return new Reference(null, digest);
  }

  static boolean isValidTag(String t) {
    if (t == null || t.isEmpty() || t.length() > 128) {
      return false;
    }
    for (int i = 0; i < t.length(); i++) {
      char c = t.charAt(i);
      boolean word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
      if (!(word || (i > 0 && (c == '.' || c == '-')))) {
        return false;
      }
    }
    return true;
  }

  public boolean isDigest() {
    return digest != null;
  }

  public Optional<Digest> digest() {
    return Optional.ofNullable(digest);
  }

  public Optional<String> tag() {
    return Optional.ofNullable(tag);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Reference && toString().equals(o.toString());
  }

  @Override
  public int hashCode() {
    return toString().hashCode();
  }

  @Override
  public String toString() {
    return digest != null ? digest.toString() : tag;
  }
}
