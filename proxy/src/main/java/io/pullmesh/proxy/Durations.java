package io.pullmesh.proxy;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;

/** Parses durations people write: {@code 500ms}, {@code 30s}, {@code 5m}, {@code 1h}, {@code 2d}, or ISO-8601 {@code PT30S}. */
public final class Durations {
  private Durations() {}

  public static Duration parse(String text) {
    String s = text == null ? "" : text.strip().toLowerCase(Locale.ROOT);
    try {
      if (s.startsWith("p")) {
        return Duration.parse(s.toUpperCase(Locale.ROOT));
      }
      if (s.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2).strip()));
      }
      char unit = s.isEmpty() ? ' ' : s.charAt(s.length() - 1);
      String num = s.substring(0, Math.max(0, s.length() - 1)).strip();
      return switch (unit) {
        case 's' -> Duration.ofSeconds(Long.parseLong(num));
        case 'm' -> Duration.ofMinutes(Long.parseLong(num));
        case 'h' -> Duration.ofHours(Long.parseLong(num));
        case 'd' -> Duration.ofDays(Long.parseLong(num));
        default -> Duration.ofSeconds(Long.parseLong(s));
      };
    } catch (NumberFormatException | DateTimeParseException e) {
      throw new IllegalArgumentException("'" + text + "' is not a duration (expected e.g. 500ms, 30s, 5m, 1h)");
    }
  }
}
