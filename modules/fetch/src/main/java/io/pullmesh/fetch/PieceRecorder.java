package io.pullmesh.fetch;

import java.util.Arrays;
import java.util.BitSet;

/**
 * Decides when a running download's piece map is worth recording again (something changed since the last record, and
 * no record is being written), so a restart resumes it. The caller writes the record ({@code PartialFile.recordPieces},
 * which flushes first). Called holding the download's lock ({@code guard}).
 */
final class PieceRecorder {
  /** What to record: the pieces done and the written prefixes of the others, taken together before the flush. */
  record Snapshot(BitSet done, int[] prefixes) {}

  private final Object guard;
  private BitSet recorded = new BitSet();
  private int[] recordedPrefixes = new int[0];
  private boolean writing;

  PieceRecorder(Object guard) {
    this.guard = guard;
  }

  /** What a resumed download found recorded. */
  void resumedFrom(PieceTable table) {
    assert Thread.holdsLock(guard);
    recorded = table.doneCopy();
    recordedPrefixes = table.prefixesOfUnfinished();
  }

  /** A snapshot to record now, or null when one is being written or nothing changed. */
  Snapshot take(PieceTable table) {
    assert Thread.holdsLock(guard);
    if (writing) {
      return null;
    }
    // taken before the flush: every byte these name was written before it, so it is on disk once the flush returns
    int[] prefixes = table.prefixesOfUnfinished();
    BitSet done = table.doneCopy();
    if (done.equals(recorded) && Arrays.equals(prefixes, recordedPrefixes)) {
      return null;
    }
    writing = true;
    return new Snapshot(done, prefixes);
  }

  /** The snapshot is recorded (or failed to be, when {@code ok} is false). */
  void finished(Snapshot s, boolean ok) {
    assert Thread.holdsLock(guard);
    writing = false;
    if (ok) {
      recorded = s.done();
      recordedPrefixes = s.prefixes();
    }
  }
}
