package io.pullmesh.core;

import java.util.HexFormat;

/**
 * A content digest, {@code sha256:<64 lowercase hex>}: the only algorithm Ollama's registry uses, and the
 * only one pullmesh accepts. Validated once here; everything downstream can use {@link #hex()} in file names
 * without further checks.
 */
public final class Digest implements Comparable<Digest> {
  public static final String ALGORITHM = "sha256";
  private static final String PREFIX = ALGORITHM + ":";
  private static final int HEX_LENGTH = 64;

  private final String hex;

  private Digest(String hex) {
    this.hex = hex;
  }

  /**
   * Parses {@code sha256:<64 hex>}. Upper-case hex is refused, as the distribution spec does, so that one
   * blob has exactly one name.
   *
   * @throws IllegalArgumentException with a message naming the bad input and the expected form
   */
  public static Digest parse(String text) {
    if (text == null || !text.startsWith(PREFIX) || text.length() != PREFIX.length() + HEX_LENGTH
        || !isLowerHex(text, PREFIX.length())) {
      throw new IllegalArgumentException(
          "digest: " + quote(text) + " (expected: sha256:<64 lowercase hex>)");
    }
    return new Digest(text.substring(PREFIX.length()));
  }

  /** Like {@link #parse} for the bare 64-hex form used in file names. */
  public static Digest ofHex(String hex) {
    if (hex == null || hex.length() != HEX_LENGTH || !isLowerHex(hex, 0)) {
      throw new IllegalArgumentException("digest hex: " + quote(hex) + " (expected: 64 lowercase hex)");
    }
    return new Digest(hex);
  }

  /** The SHA-256 digest of {@code content}. */
  public static Digest of(byte[] content) {
    return ofBytes(Sha256.newDigest().digest(content));
  }

  /** The 32 bytes of the SHA-256 output. */
  public byte[] bytes() {
    return HexFormat.of().parseHex(hex);
  }

  /** The digest of a finished SHA-256 computation. */
  public static Digest ofBytes(byte[] sha256) {
    if (sha256.length != 32) {
      throw new IllegalArgumentException("sha256 output must be 32 bytes, got " + sha256.length);
    }
    return new Digest(HexFormat.of().formatHex(sha256));
  }

  /** True when {@code text} is a well-formed digest; never throws. */
  public static boolean isValid(String text) {
    return text != null && text.startsWith(PREFIX) && text.length() == PREFIX.length() + HEX_LENGTH
        && isLowerHex(text, PREFIX.length());
  }

  private static boolean isLowerHex(String s, int from) {
    for (int i = from; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return false;
      }
    }
    return true;
  }

  static String quote(String s) {
    if (s == null) {
      return "null";
    }
    String shown = s.length() > 100 ? s.substring(0, 100) + "..." : s;
    StringBuilder b = new StringBuilder("\"");
    for (int i = 0; i < shown.length(); i++) {
      char c = shown.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.append('"').toString();
  }

  /** 64 lowercase hex characters. */
  public String hex() {
    return hex;
  }

  /** The first 12 hex characters, as Ollama prints them in progress lines. */
  public String shortHex() {
    return hex.substring(0, 12);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Digest && ((Digest) o).hex.equals(hex);
  }

  @Override
  public int hashCode() {
    return hex.hashCode();
  }

  @Override
  public int compareTo(Digest o) {
    return hex.compareTo(o.hex);
  }

  /** {@code sha256:<hex>}. */
  @Override
  public String toString() {
    return PREFIX + hex;
  }
}
