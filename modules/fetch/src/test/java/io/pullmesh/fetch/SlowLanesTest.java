package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.PieceLayout;
import java.util.List;
import org.junit.jupiter.api.Test;

class SlowLanesTest {
  private static final long SECOND = 1_000_000_000L;
  private static final int MIB = 1 << 20;

  /** Four 4 MiB pieces; lanes of this download have ended at 16 MB/s. */
  private SlowLanes slowLanes(double tailRace, int connections) {
    SlowLanes s = new SlowLanes(this, FetchConfig.defaults().withConnections(connections).withTailRace(tailRace));
    for (int i = 0; i < 5; i++) {
      s.finished(16_000_000, SECOND);
    }
    return s;
  }

  /** A lane on {@code piece} at 1 MB/s for 2 s, with {@code remaining} bytes to go. */
  private static TailRace.Lane slowLane(int piece, long remaining) {
    return new TailRace.Lane(piece, 0, 2_000_000, remaining, 0);
  }

  @Test
  void offByDefaultItNeitherRetiresNorRaces() {
    synchronized (this) {
      SlowLanes s = slowLanes(0, 16);
      PieceTable table = new PieceTable(this, new PieceLayout(16L * MIB, 4 * MIB));
      assertFalse(s.on());
      assertNull(s.retireNow(List.of(slowLane(1, 4 * MIB)), 2 * SECOND));
      assertEquals(-1, s.raceNow(List.of(slowLane(1, 4 * MIB)), 2 * SECOND, table));
    }
  }

  @Test
  void aDownloadRetiresAtMostAQuarterOfItsConnections() {
    synchronized (this) {
      SlowLanes s = slowLanes(0.02, 8);
      List<TailRace.Lane> lanes = List.of(slowLane(1, 4 * MIB));
      assertEquals(1, s.retireNow(lanes, 2 * SECOND).piece());
      assertEquals(1, s.retireNow(lanes, 2 * SECOND).piece());
      assertNull(s.retireNow(lanes, 2 * SECOND), "8 connections: 2 retirements (a quarter, and 2 at least)");
    }
  }

  @Test
  void aRaceReservesThePiecesRestFromTheBudgetAndARestBeyondWhatIsLeftIsNotRaced() {
    synchronized (this) {
      // 1% of 16 MiB: 167,772 bytes of budget
      SlowLanes s = slowLanes(0.01, 16);
      PieceTable table = new PieceTable(this, new PieceLayout(16L * MIB, 4 * MIB));
      table.take(1);
      table.wrote(4L * MIB, 4 * MIB - 100_000, Source.UPSTREAM); // 100,000 bytes of piece 1 to go
      table.take(2);
      table.wrote(8L * MIB, 4 * MIB - 100_000, Source.UPSTREAM);
      assertEquals(1, s.raceNow(List.of(slowLane(1, 100_000)), 2 * SECOND, table));
      assertTrue(s.raceOver(1), "piece 1 was raced");
      assertFalse(s.raceOver(1), "and is no longer");
      assertEquals(-1, s.raceNow(List.of(slowLane(2, 100_000)), 2 * SECOND, table), "67,772 bytes left: not enough for 100,000");
    }
  }
}
