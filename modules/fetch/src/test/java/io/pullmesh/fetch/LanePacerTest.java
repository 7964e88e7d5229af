package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LanePacerTest {
  private static final int CHUNK = 8 << 10;
  private final ManualTimers timers = new ManualTimers();

  /** A lane that reads a chunk whenever the pacer lets it, like a body that always has bytes. */
  private static final class Reader {
    final String download;
    LanePacer.Pace pace;
    boolean paused;
    long read;

    Reader(String download) {
      this.download = download;
    }

    void attach(LanePacer pacer, boolean upstream) {
      pace = pacer.lane(download, upstream, () -> paused = false);
      paused = !pace.start();
    }

    /** Reads chunks until paused or {@code max} bytes. */
    void readUpTo(long max) {
      long until = read + max;
      while (!paused && read < until) {
        read += CHUNK;
        paused = !pace.read(CHUNK);
      }
    }
  }

  private List<Reader> lanes(LanePacer pacer, String download, int n) {
    List<Reader> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Reader r = new Reader(download);
      r.attach(pacer, true);
      out.add(r);
    }
    return out;
  }

  @Test
  void downloadsWithSixteenLanesAndWithTwoGetEqualSharesOfTheCap() {
    long rate = 4L << 20;
    LanePacer pacer = new LanePacer(rate, 0, timers, timers::nanoTime);
    List<Reader> wide = lanes(pacer, "wide", 16);
    List<Reader> narrow = lanes(pacer, "narrow", 2);
    for (int ms = 0; ms < 10_000; ms++) {
      wide.forEach(r -> r.readUpTo(1 << 20));
      narrow.forEach(r -> r.readUpTo(1 << 20));
      timers.advance(1);
    }
    long w = wide.stream().mapToLong(r -> r.read).sum();
    long n = narrow.stream().mapToLong(r -> r.read).sum();
    assertTrue(Math.abs(w - n) < 0.05 * (w + n), "16 lanes read " + w + ", 2 lanes read " + n);
    assertTrue(w + n <= 10 * rate * 1.05, "read " + (w + n) + " bytes in 10 s at " + rate + "/s");
    assertTrue(w + n >= 10 * rate * 0.95, "read only " + (w + n) + " bytes in 10 s at " + rate + "/s");
  }

  @Test
  void aLaneHeldByTheCapSaysItWaitsAndNeverWaitedOnesAreNotCapped() {
    LanePacer pacer = new LanePacer(1L << 20, 0, timers, timers::nanoTime);
    Reader r = lanes(pacer, "a", 1).get(0);
    assertFalse(r.pace.capped());
    r.readUpTo(Long.MAX_VALUE / 2);
    assertTrue(r.paused);
    assertTrue(r.pace.waiting(), "the stall watch must see the lane as held, not stalled");
    assertTrue(r.pace.capped(), "the tail race must not race it");
    timers.advance(100);
    assertFalse(r.paused, "the timer let it read again");
    assertFalse(r.pace.waiting());
  }

  @Test
  void peerLanesAreNeverCapped() {
    LanePacer pacer = new LanePacer(1L << 20, 0, timers, timers::nanoTime);
    Reader peer = new Reader("a");
    peer.attach(pacer, false);
    peer.readUpTo(64L << 20);
    assertFalse(peer.paused);
    assertEquals(64L << 20, peer.read);
  }

  @Test
  void lanesWaitForBufferMemoryAndReadOnAsWritesGiveItBack() {
    long limit = 256 << 10;
    LanePacer pacer = new LanePacer(0, limit, timers, timers::nanoTime);
    List<Reader> all = lanes(pacer, "a", 16);
    all.forEach(r -> r.readUpTo(Long.MAX_VALUE / 2));
    long reading = all.stream().filter(r -> !r.paused).count();
    assertEquals(0, reading, "every lane spent its grant and waits");
    assertTrue(pacer.bufferHeld() <= limit, "held " + pacer.bufferHeld());
    assertTrue(all.stream().allMatch(r -> r.pace.waiting()), "every lane waits for memory, the stall watch sees it held");
    long readAny = all.stream().filter(r -> r.read > 0).count();
    assertEquals(limit / LanePacer.MEMORY_GRANT, readAny, "only four 64 KiB grants fit in 256 KiB");
    // the disk writes what the first lane read: its bytes come back and the next waiting lane reads
    Reader first = all.get(0);
    first.pace.released(first.read);
    assertTrue(all.stream().anyMatch(r -> r != first && !r.paused && r.read == 0), "a waiting lane was let go");
    // a lane's bytes are written (or dropped) before it ends
    all.stream().filter(r -> r != first).forEach(r -> r.pace.released(r.read));
    all.forEach(r -> r.pace.end());
    assertEquals(0, pacer.bufferHeld(), "ended lanes hold nothing");
    assertTrue(pacer.bufferPeak() <= limit, "peak " + pacer.bufferPeak());
  }
}
