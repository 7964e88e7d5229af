package io.pullmesh.fetch;

import io.pullmesh.store.PartialFile;
import java.io.IOException;
import java.util.Arrays;
import java.util.BitSet;
import java.util.logging.Logger;

/**
 * Decides when a running download's piece map is worth recording again (something changed since the last record, and
 * no record is being written), so a restart resumes it, and writes it ({@code PartialFile.recordPieces},
 * which flushes first) with {@link #write}, outside the lock; everything else is called holding the download's lock
 * ({@code guard}).
 */
final class PieceRecorder {
  /** What to record: the pieces done and the written prefixes of the others, taken together before the flush. */
  record Snapshot(BitSet done, int[] prefixes) {}

  private static final Logger LOG = Logger.getLogger(PieceRecorder.class.getName());
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

  /** Records {@code s} in {@code file}'s piece map (it flushes first); outside the lock, blocking. */
  void write(PartialFile file, Snapshot s) {
    boolean ok = false;
    try {
      file.recordPieces(s.done(), s.prefixes());
      ok = true;
    } catch (IOException | RuntimeException e) {
      LOG.fine(() -> "could not record the pieces in " + file + ": " + e);
    } finally {
      synchronized (guard) {
        finished(s, ok);
      }
    }
  }

  private void finished(Snapshot s, boolean ok) {
    writing = false;
    if (ok) {
      recorded = s.done();
      recordedPrefixes = s.prefixes();
    }
  }
}
