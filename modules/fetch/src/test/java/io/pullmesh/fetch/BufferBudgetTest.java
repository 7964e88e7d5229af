package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class BufferBudgetTest {
  private final BufferBudget<String> budget = new BufferBudget<>(100);

  @Test
  void aReservationThatFitsIsMadeAtOnce() {
    assertTrue(budget.reserve("a", 60));
    assertEquals(60, budget.held());
  }

  @Test
  void aReservationThatDoesNotFitWaitsUntilWritesGiveBytesBack() {
    assertTrue(budget.reserve("a", 60));
    assertFalse(budget.reserve("b", 60));
    assertEquals(List.of(), budget.give(10), "50 + 60 does not fit in 100 yet");
    assertEquals(List.of(new Grant<>("b", 60)), budget.give(10));
    assertEquals(100, budget.held());
  }

  @Test
  void noOneJumpsTheQueueEvenWhenItWouldFit() {
    assertTrue(budget.reserve("a", 90));
    assertFalse(budget.reserve("big", 50));
    assertFalse(budget.reserve("small", 5), "5 would fit, but big waits first");
    assertEquals(List.of(new Grant<>("big", 50), new Grant<>("small", 5)), budget.give(90));
  }

  @Test
  void aReservationLargerThanTheWholeBudgetIsCutToIt() {
    assertTrue(budget.reserve("a", 1000));
    assertEquals(100, budget.held());
  }

  @Test
  void bytesReadPastAReservationAreHeldAsTheyAreAndTheQueueWaitsForThem() {
    assertTrue(budget.reserve("a", 100));
    budget.overdrawn(8);
    assertEquals(108, budget.held());
    assertEquals(108, budget.peak());
    assertFalse(budget.reserve("b", 10));
    assertEquals(List.of(), budget.give(8));
    assertEquals(List.of(new Grant<>("b", 10)), budget.give(10));
  }

  @Test
  void aLaneThatEndsLeavesTheQueue() {
    assertTrue(budget.reserve("a", 100));
    assertFalse(budget.reserve("b", 10));
    budget.leave("b");
    assertEquals(List.of(), budget.give(100));
    assertEquals(0, budget.held());
  }

  @Test
  void givingBackMoreThanWasHeldIsABug() {
    assertThrows(IllegalStateException.class, () -> budget.give(1));
  }
}
