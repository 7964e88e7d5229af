package io.pullmesh.testkit.fault;

import java.util.Arrays;

/**
 * The faults to apply to one response: what every matching rule contributed, merged. Several delays add up;
 * the first status wins; the smallest drop and stall points win; all corrupt offsets apply.
 *
 * @param delayMillis wait before answering
 * @param status a status to answer with instead of the blob, or 0
 * @param ignoreRange answer ranged requests with 200 and the whole blob
 * @param dropAfter close the connection after this many body bytes, or -1
 * @param stallAfter stop sending after this many body bytes, or -1
 * @param corruptOffsets blob offsets whose byte is flipped (sorted)
 */
public record AppliedFaults(
    long delayMillis, int status, boolean ignoreRange, long dropAfter, long stallAfter, long[] corruptOffsets) {

  public static final AppliedFaults NONE = new AppliedFaults(0, 0, false, -1, -1, new long[0]);

  public AppliedFaults {
    corruptOffsets = corruptOffsets.clone();
    Arrays.sort(corruptOffsets);
  }

  public boolean none() {
    return delayMillis == 0 && status == 0 && !ignoreRange && dropAfter < 0 && stallAfter < 0
        && corruptOffsets.length == 0;
  }

  @Override
  public long[] corruptOffsets() {
    return corruptOffsets.clone();
  }

  /** Whether any byte is to be flipped. */
  public boolean corrupting() {
    return corruptOffsets.length > 0;
  }

  /** Whether the body byte at blob offset {@code offset} must be flipped. */
  public boolean corrupts(long offset) {
    return Arrays.binarySearch(corruptOffsets, offset) >= 0;
  }

  /**
   * Flips, in {@code chunk}, the bytes whose blob offsets are corrupted. {@code chunk[0]} is blob offset
   * {@code start}.
   */
  public void corrupt(byte[] chunk, int length, long start) {
    for (long off : corruptOffsets) {
      if (off >= start && off < start + length) {
        int i = (int) (off - start);
        chunk[i] = (byte) ~chunk[i];
      }
    }
  }

  static AppliedFaults merge(Iterable<Fault> faults) {
    long delay = 0;
    int status = 0;
    boolean ignore = false;
    long drop = -1;
    long stall = -1;
    long[] corrupt = new long[0];
    for (Fault f : faults) {
      if (f instanceof Fault.Delay d) {
        delay += d.millis();
      } else if (f instanceof Fault.Status s) {
        status = status == 0 ? s.code() : status;
      } else if (f instanceof Fault.IgnoreRange) {
        ignore = true;
      } else if (f instanceof Fault.DropAfter d) {
        drop = drop < 0 ? d.bytes() : Math.min(drop, d.bytes());
      } else if (f instanceof Fault.StallAfter s) {
        stall = stall < 0 ? s.bytes() : Math.min(stall, s.bytes());
      } else if (f instanceof Fault.Corrupt c) {
        corrupt = Arrays.copyOf(corrupt, corrupt.length + 1);
        corrupt[corrupt.length - 1] = c.offset();
      }
    }
    return new AppliedFaults(delay, status, ignore, drop, stall, corrupt);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof AppliedFaults a && a.delayMillis == delayMillis && a.status == status
        && a.ignoreRange == ignoreRange && a.dropAfter == dropAfter && a.stallAfter == stallAfter
        && Arrays.equals(a.corruptOffsets, corruptOffsets);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(new long[] {delayMillis, status, ignoreRange ? 1 : 0, dropAfter, stallAfter})
        * 31 + Arrays.hashCode(corruptOffsets);
  }

  @Override
  public String toString() {
    return none() ? "AppliedFaults[none]" : "AppliedFaults[delay=" + delayMillis + "ms, status=" + status
        + ", ignoreRange=" + ignoreRange + ", dropAfter=" + dropAfter + ", stallAfter=" + stallAfter
        + ", corrupt=" + Arrays.toString(corruptOffsets) + "]";
  }
}
