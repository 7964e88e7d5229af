package io.pullmesh.core;

import java.util.Locale;

/** Human-readable byte counts and rates for logs and progress lines. */
public final class Bytes {
  private Bytes() {}

  /** {@code 1536 -> "1.5 KiB"}, binary units, one decimal. */
  public static String human(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = bytes;
    int u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
  }

  /**
   * Parses {@code 4096}, {@code 512k}, {@code 4MiB}, {@code 10GB}, {@code 1.5g}: binary multiples whatever the
   * spelling, since a cache size is about disk blocks.
   *
   * @throws IllegalArgumentException with the expected form
   */
  public static long parse(String text) {
    if (text == null) {
      throw new IllegalArgumentException("size: null (expected: a number with an optional unit, e.g. 512m, 4GiB)");
    }
    String s = text.strip().toLowerCase(Locale.ROOT);
    int i = 0;
    while (i < s.length() && (Character.isDigit(s.charAt(i)) || s.charAt(i) == '.')) {
      i++;
    }
    String num = s.substring(0, i);
    String unit = s.substring(i).strip();
    long mult = switch (unit) {
      case "", "b" -> 1L;
      case "k", "kb", "kib" -> 1L << 10;
      case "m", "mb", "mib" -> 1L << 20;
      case "g", "gb", "gib" -> 1L << 30;
      case "t", "tb", "tib" -> 1L << 40;
      default -> -1L;
    };
    double v;
    try {
      v = Double.parseDouble(num);
    } catch (NumberFormatException e) {
      v = -1;
    }
    if (mult < 0 || v < 0 || num.isEmpty() || v * mult > Long.MAX_VALUE) {
      throw new IllegalArgumentException(
          "size: " + Digest.quote(text) + " (expected: a number with an optional unit k, m, g, t, e.g. 512m, 4GiB)");
    }
    return (long) (v * mult);
  }
}
