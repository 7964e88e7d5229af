package io.pullmesh.seeder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import org.junit.jupiter.api.Test;

/** {@code --every} and {@code --at}: parsed from the options, next run computed against an injected clock. */
class ScheduleTest {
  private static final ZoneId BERLIN = ZoneId.of("Europe/Berlin");

  private static Clock at(String localDateTime, ZoneId zone) {
    return Clock.fixed(ZonedDateTime.of(java.time.LocalDateTime.parse(localDateTime), zone).toInstant(), zone);
  }

  private static ZonedDateTime local(Instant i, ZoneId zone) {
    return i.atZone(zone);
  }

  @Test
  void everyCountsFromTheFirstRunAndSkipsMissedRuns() {
    Clock clock = Clock.fixed(Instant.parse("2025-01-10T08:00:00Z"), ZoneId.of("UTC"));
    Schedule s = Schedule.parse("24h", null, clock.getZone());
    assertEquals("every 24h", s.describe());
    Instant first = clock.instant();
    // the first run took ten minutes: the next is 24 h after it started
    assertEquals(Instant.parse("2025-01-11T08:00:00Z"), s.next(first, Clock.offset(clock, Duration.ofMinutes(10)).instant()));
    // a run that went on for 50 h: the runs it overlapped are skipped, not made up
    assertEquals(Instant.parse("2025-01-13T08:00:00Z"), s.next(first, Clock.offset(clock, Duration.ofHours(50)).instant()));
    // exactly on a due time: the following one
    assertEquals(Instant.parse("2025-01-12T08:00:00Z"), s.next(first, Clock.offset(clock, Duration.ofHours(24)).instant()));
    assertEquals(Duration.ofMinutes(90), ((Schedule.Every) Schedule.parse("90m", null, clock.getZone())).period());
    assertEquals("every 7d", Schedule.parse("7d", null, clock.getZone()).describe());
  }

  @Test
  void atIsDailyInTheClocksZone() {
    Clock before = at("2025-05-01T01:00", BERLIN);
    Schedule s = Schedule.parse(null, "02:00", before.getZone());
    assertEquals("daily at 02:00 (Europe/Berlin)", s.describe());
    assertEquals(ZonedDateTime.of(2025, 5, 1, 2, 0, 0, 0, BERLIN), local(s.next(before.instant(), before.instant()), BERLIN));
    Clock after = at("2025-05-01T02:00", BERLIN);
    assertEquals(ZonedDateTime.of(2025, 5, 2, 2, 0, 0, 0, BERLIN), local(s.next(after.instant(), after.instant()), BERLIN),
        "exactly at the time: tomorrow's");
    Clock evening = at("2025-05-01T23:30", BERLIN);
    assertEquals(Instant.parse("2025-05-02T00:00:00Z"), s.next(evening.instant(), evening.instant()), "02:00 CEST is 00:00 UTC");
    // single-digit hours are fine
    assertEquals(ZonedDateTime.of(2025, 5, 1, 9, 5, 0, 0, BERLIN),
        local(Schedule.parse(null, "9:05", BERLIN).next(before.instant(), before.instant()), BERLIN));
  }

  @Test
  void atAcrossDaylightSavingChanges() {
    // 2025-03-30: Berlin's clocks jump from 02:00 to 03:00, so 02:30 does not exist that day: the run is at 03:30 CEST
    Clock spring = at("2025-03-30T01:00", BERLIN);
    Schedule s = Schedule.parse(null, "02:30", BERLIN);
    assertEquals(Instant.parse("2025-03-30T01:30:00Z"), s.next(spring.instant(), spring.instant()));
    // 2025-10-26: 02:30 happens twice; the run is at the first (CEST, 00:30 UTC), and the next one the day after
    Clock autumn = at("2025-10-26T01:00", BERLIN);
    Instant first = s.next(autumn.instant(), autumn.instant());
    assertEquals(Instant.parse("2025-10-26T00:30:00Z"), first);
    assertEquals(Instant.parse("2025-10-27T01:30:00Z"), s.next(first, first));
  }

  @Test
  void badSchedulesSayWhatIsExpected() {
    ZoneId z = ZoneId.of("UTC");
    assertEquals(null, Schedule.parse(null, null, z));
    String[][] bad = {{"24h", "02:00"}, {"0s", null}, {"soon", null}, {null, "25:00"}, {null, "2pm"}, {null, "02:00:00"}, {"-1h", null}};
    String[] expect = {"cannot both be given", "too short", "is not a duration", "is not a time of day", "expected HH:MM", "expected HH:MM",
        "too short"};
    for (int i = 0; i < bad.length; i++) {
      String[] b = bad[i];
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Schedule.parse(b[0], b[1], z));
      assertTrue(e.getMessage().contains(expect[i]), i + ": " + e.getMessage());
    }
  }
}
