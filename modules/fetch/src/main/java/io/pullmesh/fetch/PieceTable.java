package io.pullmesh.fetch;

import io.pullmesh.core.PieceLayout;
import io.pullmesh.store.PartialRecord;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * The state of every piece of one download: how many of its bytes are written (a prefix), whether it is done, taken by
 * a lane (or waiting for a retry), being checked against a published piece hash, how many tries it took, and where its
 * bytes came from. Pure bookkeeping: it reads no file and wakes nobody; the download acts on what it answers.
 *
 * <p>Not thread-safe: every method must be called holding the lock of the {@code guard} given at construction (the
 * download), which the mutators assert.
 */
final class PieceTable {
  /** What a write made of the pieces it touched. */
  record Arrival(boolean newlyDone, List<Integer> toCheck) {}

  private final Object guard;
  private final PieceLayout layout;
  private final long[] filled;
  private final BitSet done;
  private final BitSet taken;
  private final BitSet checking = new BitSet();
  private final int[] attempts;
  /** Per piece: the one source its bytes came from, or null when none yet or {@link #mixed}. */
  private final Source[] origin;
  private final BitSet mixed = new BitSet();
  /** Whether a piece must be checked against a piece hash before it counts as done. */
  private boolean checked;

  PieceTable(Object guard, PieceLayout layout) {
    this.guard = guard;
    this.layout = layout;
    int n = layout.count();
    this.filled = new long[n];
    this.done = new BitSet(n);
    this.taken = new BitSet(n);
    this.attempts = new int[n];
    this.origin = new Source[n];
  }

  private void locked() {
    assert Thread.holdsLock(guard) : "the piece table is guarded by its download's lock";
  }

  PieceLayout layout() {
    return layout;
  }

  int count() {
    return layout.count();
  }

  /** Takes over what a previous run recorded: its done pieces, and the written prefix of each unfinished one. */
  void resume(PartialRecord had) {
    locked();
    for (int p = 0; p < count(); p++) {
      if (had.done().get(p)) {
        filled[p] = layout.length(p);
        done.set(p);
        taken.set(p);
      } else {
        filled[p] = had.onDisk(p);
      }
    }
  }

  /** From now on, a piece counts as done only once {@link #checked} says its bytes match its published hash. */
  void requireChecks() {
    locked();
    checked = true;
  }

  boolean checksRequired() {
    return checked;
  }

  /** The first byte of piece {@code p} not yet written. */
  long nextByte(int p) {
    return layout.start(p) + filled[p];
  }

  /** The last byte of piece {@code p}. */
  long lastByte(int p) {
    return layout.start(p) + layout.length(p) - 1;
  }

  boolean isDone(int p) {
    return done.get(p);
  }

  boolean isChecking(int p) {
    return checking.get(p);
  }

  boolean isTaken(int p) {
    return taken.get(p);
  }

  /** Whether every piece is done, taken by a lane, or waiting for a retry: nothing is left to start. */
  boolean allTaken() {
    return taken.nextClearBit(0) >= count();
  }

  boolean complete() {
    return done.cardinality() == count();
  }

  int doneCount() {
    return done.cardinality();
  }

  BitSet doneCopy() {
    return (BitSet) done.clone();
  }

  BitSet takenCopy() {
    return (BitSet) taken.clone();
  }

  /** Pieces not done and not being checked: what is still to fetch. */
  List<Integer> missing() {
    List<Integer> out = new ArrayList<>();
    for (int p = done.nextClearBit(0); p < count(); p = done.nextClearBit(p + 1)) {
      if (!checking.get(p)) {
        out.add(p);
      }
    }
    return out;
  }

  /** The bytes still missing, a range per piece not done and not being checked. */
  List<io.pullmesh.core.ByteRange> missingRanges() {
    return missing().stream().map(p -> new io.pullmesh.core.ByteRange(nextByte(p), lastByte(p))).toList();
  }

  void take(int p) {
    locked();
    taken.set(p);
  }

  /** Gives piece {@code p} back to the scheduler, unless it is done or being checked. */
  void release(int p) {
    locked();
    if (!done.get(p) && !checking.get(p)) {
      taken.clear(p);
    }
  }

  /** A try of piece {@code p} failed; returns how many tries in a row have failed now (a try that wrote bytes starts the count again). */
  int failedTry(int p, boolean progressed) {
    locked();
    attempts[p] = progressed ? 1 : attempts[p] + 1;
    return attempts[p];
  }

  void succeeded(int p) {
    locked();
    attempts[p] = 0;
  }

  /** Bytes written so far over all pieces. */
  long bytesDone() {
    long sum = 0;
    for (long f : filled) {
      sum += f;
    }
    return sum;
  }

  /**
   * Bytes {@code [pos, pos+len)} were written by {@code source}: extends the pieces they continue. A piece written in
   * full becomes done at once, or is to be checked first when {@link #requireChecks checks are required}.
   */
  Arrival wrote(long pos, int len, Source source) {
    locked();
    boolean newlyDone = false;
    List<Integer> toCheck = List.of();
    long end = pos + len;
    for (int p = layout.pieceAt(pos); p <= layout.pieceAt(end - 1); p++) {
      long s = layout.start(p);
      long reach = Math.min(layout.length(p), end - s);
      if (pos > s + filled[p] || reach <= filled[p]) {
        continue;
      }
      if (filled[p] == 0) {
        origin[p] = source;
        mixed.clear(p);
      } else if (!source.equals(origin[p])) {
        origin[p] = null;
        mixed.set(p);
      }
      filled[p] = reach;
      if (reach == layout.length(p) && !done.get(p) && !checking.get(p)) {
        taken.set(p);
        if (checked) {
          checking.set(p);
          toCheck = toCheck.isEmpty() ? new ArrayList<>() : toCheck;
          toCheck.add(p);
        } else {
          done.set(p);
          newlyDone = true;
        }
      }
    }
    return new Arrival(newlyDone, toCheck);
  }

  /** The peer whose bytes fill piece {@code p}, or null when they came from upstream, from several sources, or are none. */
  String peerOf(int p) {
    return origin[p] instanceof Source.Peer peer ? peer.node() : null;
  }

  /** Whether the bytes of piece {@code p} came from more than one source. */
  boolean mixedOrigin(int p) {
    return mixed.get(p);
  }

  /**
   * The check of piece {@code p} ended: a good piece is done; a bad one is emptied and given back to the scheduler.
   *
   * @return for a bad piece, how many tries of it have failed now; 0 for a good one
   */
  int checked(int p, boolean good) {
    locked();
    checking.clear(p);
    if (good) {
      done.set(p);
      return 0;
    }
    filled[p] = 0;
    origin[p] = null;
    mixed.clear(p);
    taken.clear(p);
    return ++attempts[p];
  }

  /** Bytes from the start of the blob that are done without a gap: what the whole-blob hash may read. */
  long donePrefix() {
    int firstMissing = done.nextClearBit(0);
    return firstMissing >= count() ? layout.size() : layout.start(firstMissing);
  }

  /**
   * Contiguous bytes readable at {@code position}: written bytes, across pieces, up to the first gap; with checks
   * required, only pieces that are done.
   */
  long availableAt(long position) {
    int p = layout.pieceAt(position);
    long off = position - layout.start(p);
    if (off >= filled[p] || (checked && !done.get(p))) {
      return 0;
    }
    long avail = filled[p] - off;
    if (filled[p] == layout.length(p)) {
      for (int q = p + 1; q < count() && filled[q] > 0 && (!checked || done.get(q)); q++) {
        avail += filled[q];
        if (filled[q] < layout.length(q)) {
          break;
        }
      }
    }
    return avail;
  }

  /**
   * Per piece, the written prefix of each piece not done, 0 for done ones (recorded in the piece map: issue 18, a SIGKILL
   * lost every byte of the pieces in flight). A piece being checked counts as not written: its bytes may yet be thrown
   * away.
   */
  int[] prefixesOfUnfinished() {
    int[] out = new int[filled.length];
    for (int p = 0; p < filled.length; p++) {
      out[p] = done.get(p) || checking.get(p) ? 0 : (int) filled[p];
    }
    return out;
  }
}
