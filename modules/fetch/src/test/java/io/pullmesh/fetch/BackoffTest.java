package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class BackoffTest {
  @Test
  void doublesUpToTheCapWithJitter() {
    Backoff mid = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(2), () -> 0.5);
    assertEquals(100, mid.delay(1).toMillis());
    assertEquals(200, mid.delay(2).toMillis());
    assertEquals(800, mid.delay(4).toMillis());
    assertEquals(2000, mid.delay(10).toMillis());
    assertEquals(2000, mid.delay(200).toMillis());
    Backoff low = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(2), () -> 0.0);
    assertEquals(50, low.delay(1).toMillis());
    Backoff high = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(2), () -> 0.999);
    assertEquals(150, high.delay(1).toMillis());
    assertThrows(IllegalArgumentException.class, () -> mid.delay(0));
  }
}
