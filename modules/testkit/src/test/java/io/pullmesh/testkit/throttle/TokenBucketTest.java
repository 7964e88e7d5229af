package io.pullmesh.testkit.throttle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TokenBucketTest {
  /** A ticker that moves only when told. */
  static final class ManualTicker implements Ticker {
    long now = 1_000;

    @Override
    public long nanos() {
      return now;
    }

    void advanceMillis(long ms) {
      now += ms * 1_000_000;
    }
  }

  private final ManualTicker ticker = new ManualTicker();

  @Test
  void startsFullThenRefillsAtTheRate() {
    TokenBucket b = new TokenBucket(1000, 100, ticker); // 1000 B/s, burst 100
    assertTrue(b.tryTake(100));
    assertFalse(b.tryTake(1));
    assertEquals(50_000_000, b.nanosUntil(50)); // 50 bytes at 1000 B/s = 50 ms
    ticker.advanceMillis(49);
    assertFalse(b.tryTake(50));
    ticker.advanceMillis(1);
    assertTrue(b.tryTake(50));
    assertEquals(0, b.available());
  }

  @Test
  void neverHoldsMoreThanItsCapacity() {
    TokenBucket b = new TokenBucket(1000, 100, ticker);
    ticker.advanceMillis(60_000);
    assertEquals(100, b.available());
    assertThrows(IllegalArgumentException.class, () -> b.tryTake(101));
  }

  @Test
  void overAnyIntervalSendsAtMostRateTimesTimePlusOneBurst() {
    long rate = 8L << 20;
    TokenBucket b = new TokenBucket(rate, TokenBucket.defaultCapacity(rate), ticker);
    long chunk = b.capacity();
    long sent = 0;
    long start = ticker.now;
    // A sender that always asks for a full chunk and waits exactly as long as told.
    for (int i = 0; i < 1000; i++) {
      if (b.tryTake(chunk)) {
        sent += chunk;
      } else {
        ticker.now += b.nanosUntil(chunk);
      }
    }
    double seconds = (ticker.now - start) / 1e9;
    assertTrue(sent <= rate * seconds + b.capacity(), "sent " + sent + " in " + seconds + " s");
    assertTrue(sent >= rate * seconds - b.capacity(), "a waiting sender gets the full rate: " + sent);
  }

  @Test
  void unlimitedNeverWaitsAndRateChangesKeepEarnedTokens() {
    TokenBucket b = new TokenBucket(0, 1, ticker);
    assertTrue(b.unlimited());
    assertTrue(b.tryTake(1L << 40));
    assertEquals(0, b.nanosUntil(1L << 40));

    TokenBucket limited = new TokenBucket(1000, 100, ticker);
    assertTrue(limited.tryTake(60));
    limited.reconfigure(2000, 50);
    assertEquals(40, limited.available(), "40 left, under the new capacity of 50");
    ticker.advanceMillis(5);
    assertEquals(50, limited.available(), "capped at the new capacity");
  }

  @Test
  void defaultCapacityAimsAtFiftyWritesPerSecond() {
    assertEquals(16 * 1024, TokenBucket.defaultCapacity(100_000));
    assertEquals((8L << 20) / 50, TokenBucket.defaultCapacity(8L << 20));
    assertEquals(256 * 1024, TokenBucket.defaultCapacity(1L << 30));
  }
}
