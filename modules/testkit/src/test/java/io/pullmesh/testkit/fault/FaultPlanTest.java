package io.pullmesh.testkit.fault;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Digest;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class FaultPlanTest {
  private static final Digest A = Digest.ofHex("a".repeat(64));
  private static final Digest B = Digest.ofHex("b".repeat(64));

  private final FaultPlan plan = new FaultPlan();

  @Test
  void nextNAppliesToExactlyNRequestsThenIsSpent() {
    FaultRule rule = plan.add(FaultRule.next(2, Fault.status(503)));
    assertEquals(503, plan.take(false, A).status());
    assertEquals(503, plan.take(false, B).status());
    assertSame(AppliedFaults.NONE, plan.take(false, A));
    assertEquals(2, rule.applied());
    assertTrue(rule.spent());
  }

  @Test
  void digestFilterAndHeadFilter() {
    plan.add(FaultRule.always(Fault.dropAfter(10)).forDigest(A));
    assertTrue(plan.take(false, B).none());
    assertTrue(plan.take(true, A).none(), "HEADs do not match unless asked");
    assertEquals(10, plan.take(false, A).dropAfter());
    plan.add(FaultRule.always(Fault.delay(Duration.ofMillis(5))).includingHead());
    assertEquals(5, plan.take(true, B).delayMillis());
  }

  @Test
  void matchingRulesCombine() {
    plan.add(FaultRule.once(Fault.corrupt(7)));
    plan.add(FaultRule.once(Fault.corrupt(3)));
    plan.add(FaultRule.once(Fault.stallAfter(100)));
    plan.add(FaultRule.once(Fault.stallAfter(50)));
    plan.add(FaultRule.once(Fault.ignoreRange()));
    AppliedFaults f = plan.take(false, A);
    assertArrayEquals(new long[] {3, 7}, f.corruptOffsets());
    assertEquals(50, f.stallAfter());
    assertTrue(f.ignoreRange());
    assertTrue(plan.take(false, A).none());
  }

  @Test
  void corruptFlipsOnlyOffsetsInsideTheChunk() {
    AppliedFaults f = new AppliedFaults(0, 0, false, -1, -1, new long[] {5, 100});
    byte[] chunk = new byte[10];
    f.corrupt(chunk, chunk.length, 0);
    assertEquals((byte) 0xFF, chunk[5]);
    byte[] later = new byte[10];
    f.corrupt(later, later.length, 95);
    assertEquals((byte) 0xFF, later[5]);
    byte[] none = new byte[10];
    f.corrupt(none, none.length, 10);
    assertArrayEquals(new byte[10], none);
  }

  @Test
  void rulesAreSpentOnlyWhereTheyTakeEffect() {
    FaultPlan plan = new FaultPlan();
    FaultRule corrupt = plan.add(FaultRule.once(Fault.corrupt(1000)));
    FaultRule drop = plan.add(FaultRule.once(Fault.dropAfter(100)));
    // a one-byte probe neither covers offset 1000 nor is longer than 100 bytes: both rules stay unused
    assertTrue(plan.take(false, A, 0, 0).none());
    assertEquals(0, corrupt.applied());
    assertEquals(0, drop.applied());
    // a range that covers the offset and is long enough gets both
    AppliedFaults f = plan.take(false, A, 900, 1999);
    assertTrue(f.corrupts(1000));
    assertEquals(100, f.dropAfter());
    assertTrue(corrupt.spent() && drop.spent());
  }

  @Test
  void clearAndRemove() {
    FaultRule r = plan.add(FaultRule.always(Fault.ignoreRange()));
    assertTrue(plan.remove(r));
    assertFalse(plan.take(false, A).ignoreRange());
    plan.add(FaultRule.always(Fault.ignoreRange()));
    plan.clear();
    assertTrue(plan.rules().isEmpty());
  }

  @Test
  void badArgumentsAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> Fault.status(99));
    assertThrows(IllegalArgumentException.class, () -> Fault.dropAfter(-1));
    assertThrows(IllegalArgumentException.class, () -> FaultRule.next(0, Fault.ignoreRange()));
  }
}
