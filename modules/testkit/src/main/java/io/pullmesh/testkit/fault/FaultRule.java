package io.pullmesh.testkit.fault;

import io.pullmesh.core.Digest;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * When a {@link Fault} applies: to the next {@code n} matching requests or to all of them, optionally only to
 * requests for one digest, and to GETs only unless {@link #includingHead()} is called. Configure a rule before
 * adding it to a {@link FaultPlan}; afterwards only its counters change.
 */
public final class FaultRule {
  private static final int FOREVER = -1;

  private final Fault fault;
  private final int uses;
  private volatile Digest digest;
  private volatile boolean includeHead;
  private final AtomicInteger applied = new AtomicInteger();

  private FaultRule(Fault fault, int uses) {
    this.fault = fault;
    this.uses = uses;
  }

  /** Applies to the next {@code n} matching requests, then is spent. */
  public static FaultRule next(int n, Fault fault) {
    if (n < 1) {
      throw new IllegalArgumentException("n must be >= 1, got " + n);
    }
    return new FaultRule(fault, n);
  }

  /** Applies to the next matching request only. */
  public static FaultRule once(Fault fault) {
    return next(1, fault);
  }

  /** Applies to every matching request until removed. */
  public static FaultRule always(Fault fault) {
    return new FaultRule(fault, FOREVER);
  }

  /** Only requests for this blob match. */
  public FaultRule forDigest(Digest d) {
    this.digest = d;
    return this;
  }

  /** HEAD requests match too (by default only GETs do). */
  public FaultRule includingHead() {
    this.includeHead = true;
    return this;
  }

  public Fault fault() {
    return fault;
  }

  /** How many requests this rule has been applied to so far. */
  public int applied() {
    return applied.get();
  }

  /** True when a {@link #next} rule has been used up. */
  public boolean spent() {
    return uses != FOREVER && applied.get() >= uses;
  }

  boolean matches(boolean head, Digest requested) {
    if (head && !includeHead) {
      return false;
    }
    Digest d = digest;
    return d == null || d.equals(requested);
  }

  /** Whether this rule's fault changes a response carrying blob bytes {@code [first, last]}. */
  boolean takesEffect(long first, long last) {
    long length = last < first ? 0 : (last == Long.MAX_VALUE ? Long.MAX_VALUE : last - first + 1);
    if (fault instanceof Fault.Corrupt c) {
      return c.offset() >= first && c.offset() <= last;
    }
    if (fault instanceof Fault.DropAfter d) {
      return length > d.bytes();
    }
    if (fault instanceof Fault.StallAfter st) {
      return length > st.bytes();
    }
    return true;
  }

  /** Called under the plan's lock: consumes one use if any is left. */
  boolean tryUse() {
    if (spent()) {
      return false;
    }
    applied.incrementAndGet();
    return true;
  }

  @Override
  public String toString() {
    return (uses == FOREVER ? "always " : "next " + uses + " ") + fault
        + (digest != null ? " for " + digest.shortHex() : "") + (includeHead ? " incl. HEAD" : "")
        + " (applied " + applied.get() + ")";
  }
}
