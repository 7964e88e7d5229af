package io.pullmesh.seeder;

import io.pullmesh.proxy.Durations;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalTime;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;

/**
 * When a prefetch list is warmed again: every fixed period ({@code --every 24h}) or daily at a local time
 * ({@code --at 02:00}). The first warm-up runs at start; {@link #next} gives each run after it.
 */
public sealed interface Schedule {
  /**
   * The next run after the one that was due at {@code previous}, never at or before {@code now}: runs missed while
   * a long run went on are skipped, not made up.
   */
  Instant next(Instant previous, Instant now);

  /** For messages: {@code every 24h}, {@code daily at 02:00 (Europe/Berlin)}. */
  String describe();

  /** Every {@code period}, counted from the start of the first run. */
  record Every(Duration period) implements Schedule {
    public Every {
      if (period.compareTo(Duration.ofSeconds(1)) < 0) {
        throw new IllegalArgumentException("the period must be at least 1s");
      }
    }

    @Override
    public Instant next(Instant previous, Instant now) {
      Instant n = previous.plus(period);
      if (!n.isAfter(now)) {
        long missed = Duration.between(n, now).toNanos() / period.toNanos() + 1;
        n = n.plus(period.multipliedBy(missed));
      }
      return n;
    }

    @Override
    public String describe() {
      return "every " + human(period);
    }
  }

  /**
   * Daily at {@code time} in {@code zone}. On a day the clock skips that time (daylight saving starts), the run is at
   * the same offset later (02:30 becomes 03:30); on a day it passes twice, the first one.
   */
  record DailyAt(LocalTime time, ZoneId zone) implements Schedule {
    @Override
    public Instant next(Instant previous, Instant now) {
      ZonedDateTime local = now.atZone(zone);
      LocalDate day = local.toLocalDate();
      for (int i = 0; i < 3; i++) {
        Instant candidate = ZonedDateTime.of(day.plusDays(i), time, zone).toInstant();
        if (candidate.isAfter(now)) {
          return candidate;
        }
      }
      throw new IllegalStateException("no next run found for " + this + " after " + now);
    }

    @Override
    public String describe() {
      return "daily at " + time.format(DateTimeFormatter.ofPattern("HH:mm")) + " (" + zone.getId() + ")";
    }
  }

  /**
   * From the options: at most one of {@code every} and {@code at} (both null: no schedule, null is returned).
   *
   * @param zone the time zone {@code --at} is read in (the system's)
   * @throws IllegalArgumentException naming the option and what it expects
   */
  static Schedule parse(String every, String at, ZoneId zone) {
    if (every != null && at != null) {
      throw new IllegalArgumentException("--every and --at cannot both be given: choose a period (--every 24h) or a daily time (--at 02:00)");
    }
    if (every != null) {
      Duration d;
      try {
        d = Durations.parse(every);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--every: '" + every + "' is not a duration (expected e.g. 30m, 6h, 24h, 7d)");
      }
      if (d.compareTo(Duration.ofSeconds(1)) < 0) {
        throw new IllegalArgumentException("--every: '" + every + "' is too short (at least 1s; e.g. 6h or 24h)");
      }
      return new Every(d);
    }
    if (at != null) {
      LocalTime t;
      try {
        String s = at.strip();
        if (!s.matches("\\d{1,2}:\\d{2}")) {
          throw new DateTimeParseException("not HH:MM", s, 0);
        }
        t = LocalTime.parse(s.length() == 4 ? "0" + s : s, DateTimeFormatter.ofPattern("HH:mm"));
      } catch (DateTimeParseException e) {
        throw new IllegalArgumentException("--at: '" + at + "' is not a time of day (expected HH:MM, 24-hour, local time, e.g. 02:00)");
      }
      return new DailyAt(t, zone);
    }
    return null;
  }

  private static String human(Duration d) {
    long s = d.getSeconds();
    if (s % 86400 == 0 && s >= 7 * 86400) {
      return s / 86400 + "d";
    }
    if (s % 3600 == 0) {
      return s / 3600 + "h";
    }
    if (s % 60 == 0) {
      return s / 60 + "m";
    }
    return s + "s";
  }
}
