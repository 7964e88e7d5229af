package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.Test;

class PieceSchedulerTest {
  private static BitSet taken(int... pieces) {
    BitSet b = new BitSet();
    for (int p : pieces) {
      b.set(p);
    }
    return b;
  }

  @Test
  void inOrderWithoutReaders() {
    assertEquals(0, PieceScheduler.next(10, taken(), new int[0]));
    assertEquals(2, PieceScheduler.next(10, taken(0, 1), new int[0]));
    assertEquals(-1, PieceScheduler.next(3, taken(0, 1, 2), new int[0]));
  }

  @Test
  void pieceAReaderWaitsOnComesFirst() {
    // a client asking for the tail of the blob gets the tail first
    assertEquals(90, PieceScheduler.next(100, taken(0, 1, 2), new int[] {90}));
    // the reader's own piece is taken: the next one after it
    assertEquals(91, PieceScheduler.next(100, taken(90), new int[] {90}));
  }

  @Test
  void nearestNeedWinsAcrossReaders() {
    // reader at 10 needs 12 (distance 2), reader at 50 needs 50 (distance 0)
    assertEquals(50, PieceScheduler.next(100, taken(10, 11), new int[] {10, 50}));
    // equal distance: lower piece
    assertEquals(20, PieceScheduler.next(100, taken(), new int[] {60, 20}));
  }

  @Test
  void readersPastTheEndOrFinishedFallBackToOrder() {
    assertEquals(0, PieceScheduler.next(5, taken(4), new int[] {4, 7, -1}));
  }

  @Test
  void sixteenOllamaPartsGetOneConnectionEachFirst() {
    // Ollama splits a blob into 16 parts and asks for all at once: 16 connections start one per part
    int count = 160;
    int[] cursors = new int[16];
    for (int i = 0; i < 16; i++) {
      cursors[i] = i * 10;
    }
    BitSet taken = new BitSet();
    List<Integer> order = new ArrayList<>();
    for (int lane = 0; lane < 16; lane++) {
      int p = PieceScheduler.next(count, taken, cursors);
      taken.set(p);
      order.add(p);
    }
    List<Integer> expected = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      expected.add(i * 10);
    }
    assertEquals(expected, order);
  }
}
