package io.pullmesh.testkit.fault;

import io.pullmesh.core.Digest;
import java.util.ArrayList;
import java.util.List;

/**
 * The fault rules of one server. Tests add and remove rules at any time from any thread; the server calls
 * {@link #take} once per blob request, which consumes one use of every matching rule and merges their faults.
 * Spent rules stay listed (so a test can read {@link FaultRule#applied()}) until {@link #clear()}.
 */
public final class FaultPlan {
  private final List<FaultRule> rules = new ArrayList<>();

  /** Adds a rule after the existing ones and returns it. */
  public synchronized FaultRule add(FaultRule rule) {
    rules.add(rule);
    return rule;
  }

  public synchronized boolean remove(FaultRule rule) {
    return rules.remove(rule);
  }

  public synchronized void clear() {
    rules.clear();
  }

  public synchronized List<FaultRule> rules() {
    return List.copyOf(rules);
  }

  /**
   * The faults for one request, consuming a use of each matching rule.
   *
   * @param head whether the request is a HEAD
   * @param digest the blob asked for
   */
  public synchronized AppliedFaults take(boolean head, Digest digest) {
    return take(head, digest, 0, Long.MAX_VALUE);
  }

  /**
   * As {@link #take(boolean, Digest)} for a response that would carry blob bytes {@code [first, last]}: a rule
   * is used only where its fault takes effect, so a corrupt rule only on a response covering its offset, and a
   * drop or stall rule only on a body longer than its byte count (a 1-byte probe does not spend them).
   */
  public synchronized AppliedFaults take(boolean head, Digest digest, long first, long last) {
    if (rules.isEmpty()) {
      return AppliedFaults.NONE;
    }
    List<Fault> faults = new ArrayList<>(2);
    for (FaultRule r : rules) {
      if (r.matches(head, digest) && r.takesEffect(first, last) && r.tryUse()) {
        faults.add(r.fault());
      }
    }
    return faults.isEmpty() ? AppliedFaults.NONE : AppliedFaults.merge(faults);
  }
}
