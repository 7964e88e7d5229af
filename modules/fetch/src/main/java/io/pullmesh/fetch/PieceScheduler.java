package io.pullmesh.fetch;

import java.util.BitSet;

/**
 * Chooses the next piece for a free connection. Pieces clients are waiting on come first: for each reader
 * cursor (the piece a client is reading or waiting at), the nearest piece at or after it that nobody has or
 * is fetching; the reader with the nearest such piece wins, ties to the lower piece. With no reader wanting
 * anything, pieces go in order from the start. A pure function of its arguments.
 */
public final class PieceScheduler {
  private PieceScheduler() {}

  /**
   * @param count number of pieces
   * @param taken pieces done, being fetched, or waiting to be retried
   * @param cursors piece indexes readers are at (any order, duplicates fine)
   * @return the piece to fetch next, or -1 when every piece is taken
   */
  public static int next(int count, BitSet taken, int[] cursors) {
    int best = -1;
    int bestDistance = Integer.MAX_VALUE;
    for (int c : cursors) {
      if (c < 0 || c >= count) {
        continue;
      }
      int j = taken.nextClearBit(c);
      if (j >= count) {
        continue;
      }
      int d = j - c;
      if (d < bestDistance || (d == bestDistance && j < best)) {
        best = j;
        bestDistance = d;
      }
    }
    if (best >= 0) {
      return best;
    }
    int j = taken.nextClearBit(0);
    return j < count ? j : -1;
  }
}
