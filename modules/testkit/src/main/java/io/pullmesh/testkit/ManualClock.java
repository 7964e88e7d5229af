package io.pullmesh.testkit;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

/**
 * A {@link Clock} that only moves when a test says so. Stands for the wall clock of a server, e.g. the clock an
 * S3-style CDN uses to decide that a presigned URL has expired. Thread-safe.
 */
public final class ManualClock extends Clock {
  private volatile Instant now;
  private final ZoneId zone;

  public ManualClock(Instant start) {
    this(start, ZoneOffset.UTC);
  }

  private ManualClock(Instant start, ZoneId zone) {
    this.now = start;
    this.zone = zone;
  }

  /** A clock at 2025-01-01T00:00:00Z. */
  public static ManualClock fixed() {
    return new ManualClock(Instant.parse("2025-01-01T00:00:00Z"));
  }

  /** Moves the clock forward (or backward, for a negative duration). */
  public synchronized void advance(Duration d) {
    now = now.plus(d);
  }

  public void set(Instant instant) {
    now = instant;
  }

  @Override
  public ZoneId getZone() {
    return zone;
  }

  /** A copy at the same instant in another zone; it does not follow later moves of this clock. */
  @Override
  public Clock withZone(ZoneId z) {
    return new ManualClock(now, z);
  }

  @Override
  public Instant instant() {
    return now;
  }
}
