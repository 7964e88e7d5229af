package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TailRaceTest {
  private static final long SECOND = 1_000_000_000L;
  private final TailRace race = new TailRace();

  /** Lanes of this download have ended at 16 MB/s. */
  private TailRace typical16MBs() {
    for (int i = 0; i < 5; i++) {
      race.finished(16_000_000, SECOND);
    }
    return race;
  }

  @Test
  void nothingIsRacedBeforeAnyLaneEndedWell() {
    assertEquals(-1, race.pick(List.of(new TailRace.Lane(3, 0, 1000, 1 << 20, 0)), 10 * SECOND, Set.of(), SECOND));
  }

  @Test
  void aLaneFarBelowTheTypicalRateIsRaced() {
    typical16MBs();
    assertEquals(16_000_000, race.typicalRate());
    // 1 MB/s after 2 s: 16x slower, 4 MiB to go
    assertEquals(7, race.pick(List.of(new TailRace.Lane(7, 0, 2_000_000, 4 << 20, 0)), 2 * SECOND, Set.of(), SECOND));
  }

  @Test
  void aLaneNotFarBelowTheTypicalRateIsLeftAlone() {
    typical16MBs();
    // 8 MB/s: half the typical rate, not a quarter
    assertEquals(-1, race.pick(List.of(new TailRace.Lane(7, 0, 16_000_000, 4 << 20, 0)), 2 * SECOND, Set.of(), SECOND));
  }

  @Test
  void aYoungLaneAShortTailOrAPieceRacedAlreadyIsLeftAlone() {
    typical16MBs();
    assertEquals(-1, race.pick(List.of(new TailRace.Lane(1, 0, 0, 4 << 20, 0)), SECOND / 10, Set.of(), SECOND), "too young to judge");
    assertEquals(-1, race.pick(List.of(new TailRace.Lane(1, 0, 1000, 1000, 0)), 2 * SECOND, Set.of(), SECOND), "too little left");
    assertEquals(-1, race.pick(List.of(new TailRace.Lane(1, 0, 1000, 4 << 20, 0)), 2 * SECOND, Set.of(1), SECOND), "raced already");
  }

  @Test
  void aLaneThatWentQuietIsLeftToTheStallWatch() {
    typical16MBs();
    assertEquals(-1, race.pick(List.of(new TailRace.Lane(7, 0, 2_000_000, 4 << 20, SECOND / 2)), 2 * SECOND, Set.of(), SECOND / 4));
    assertEquals(7, race.pick(List.of(new TailRace.Lane(7, 0, 2_000_000, 4 << 20, SECOND / 10)), 2 * SECOND, Set.of(), SECOND / 4));
  }

  @Test
  void ofTwoSlowLanesTheOneThatWouldFinishLastIsRacedFirst() {
    typical16MBs();
    List<TailRace.Lane> lanes = List.of(new TailRace.Lane(1, 0, 1_000_000, 1 << 20, 0), new TailRace.Lane(2, 0, 1_000_000, 8 << 20, 0));
    assertEquals(2, race.pick(lanes, 2 * SECOND, Set.of(), SECOND));
  }

  @Test
  void theTypicalRateIsTheMedianOfTheLatestLanes() {
    race.finished(1_000_000, SECOND);
    race.finished(10_000_000, SECOND);
    race.finished(100_000_000, SECOND);
    race.finished(1000, SECOND);
    assertEquals(10_000_000, race.typicalRate(), "a lane of a few bytes says nothing about rates");
  }

  @Test
  void aLaneFarBelowTheTypicalRateForASecondIsRetired() {
    typical16MBs();
    TailRace.Lane slow = new TailRace.Lane(7, 0, 1_500_000, 4 << 20, 0); // 1 MB/s after 1.5 s
    TailRace.Lane fast = new TailRace.Lane(8, 0, 20_000_000, 4 << 20, 0);
    assertEquals(slow, race.retire(List.of(fast, slow), 3 * SECOND / 2, Set.of(), SECOND));
  }

  @Test
  void beforeThreeLanesEndedWellNoLaneIsRetiredUnlessFourLanesInFlightShowATypicalRate() {
    race.finished(16_000_000, SECOND);
    race.finished(16_000_000, SECOND);
    TailRace.Lane slow = new TailRace.Lane(7, 0, 1_500_000, 4 << 20, 0);
    assertNull(race.retire(List.of(slow), 3 * SECOND / 2, Set.of(), SECOND), "two rates are no typical rate yet");
    List<TailRace.Lane> flowing = List.of(slow, new TailRace.Lane(1, 0, 24_000_000, 4 << 20, 0),
        new TailRace.Lane(2, 0, 24_000_000, 4 << 20, 0), new TailRace.Lane(3, 0, 24_000_000, 4 << 20, 0));
    assertEquals(slow, race.retire(flowing, 3 * SECOND / 2, Set.of(), SECOND), "three lanes at 16 MB/s in flight: the fourth is slow");
    assertNull(race.retire(flowing.subList(0, 3), 3 * SECOND / 2, Set.of(), SECOND), "three in flight are too few to tell");
    race.finished(16_000_000, SECOND);
    assertEquals(slow, race.retire(List.of(slow), 3 * SECOND / 2, Set.of(), SECOND));
  }

  @Test
  void aLaneTooYoungToJudgeQuietRacedOrNearlyDoneIsNotRetired() {
    typical16MBs();
    assertNull(race.retire(List.of(new TailRace.Lane(1, 0, 100_000, 4 << 20, 0)), SECOND / 2, Set.of(), SECOND), "too young to judge");
    assertNull(race.retire(List.of(new TailRace.Lane(1, 0, 100_000, 4 << 20, SECOND / 2)), 2 * SECOND, Set.of(), SECOND / 4), "quiet: the stall watch's");
    assertNull(race.retire(List.of(new TailRace.Lane(1, 0, 100_000, 4 << 20, 0)), 2 * SECOND, Set.of(1), SECOND), "being raced");
    assertNull(race.retire(List.of(new TailRace.Lane(1, 0, 100_000, 1000, 0)), 2 * SECOND, Set.of(), SECOND), "almost done");
    assertNull(race.retire(List.of(new TailRace.Lane(1, 0, 10_000_000, 4 << 20, 0)), 2 * SECOND, Set.of(), SECOND), "5 MB/s: not a quarter");
  }

  @Test
  void ofTwoSlowLanesTheSlowestIsRetired() {
    typical16MBs();
    TailRace.Lane slow = new TailRace.Lane(1, 0, 2_000_000, 4 << 20, 0);
    TailRace.Lane slower = new TailRace.Lane(2, 0, 500_000, 4 << 20, 0);
    assertEquals(slower, race.retire(List.of(slow, slower), 2 * SECOND, Set.of(), SECOND));
  }
}
