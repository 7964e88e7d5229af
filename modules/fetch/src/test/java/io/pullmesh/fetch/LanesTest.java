package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LanesTest {
  private final Lanes lanes = new Lanes(2, 1);

  @Test
  void aLaneToAPeerCountsInAllAndForThatPeerAndIsGivenBackInBoth() {
    Source p = new Source.Peer("p");
    lanes.acquire(p);
    assertEquals(1, lanes.inUse());
    assertEquals(1, lanes.toPeer("p"));
    assertFalse(lanes.peerHasRoom("p", false));
    assertTrue(lanes.peerHasRoom("p", true), "the streaming peer may take up to the whole budget");
    lanes.release(p);
    assertEquals(0, lanes.inUse());
    assertEquals(0, lanes.toPeer("p"));
  }

  @Test
  void theBudgetBoundsAllLanes() {
    lanes.acquire(Source.UPSTREAM);
    lanes.acquire(new Source.Peer("p"));
    assertFalse(lanes.hasRoom());
  }

  @Test
  void aLaneGivenBackTwiceIsAnError() {
    lanes.acquire(Source.UPSTREAM);
    lanes.release(Source.UPSTREAM);
    assertThrows(IllegalStateException.class, () -> lanes.release(Source.UPSTREAM));
  }
}
