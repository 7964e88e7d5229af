package io.pullmesh.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PieceLayoutTest {
  @Test
  void cutsIntoPiecesWithShortLast() {
    PieceLayout l = new PieceLayout(10, 4);
    assertEquals(3, l.count());
    assertEquals(0, l.start(0));
    assertEquals(8, l.start(2));
    assertEquals(4, l.length(1));
    assertEquals(2, l.length(2));
    assertEquals(2, l.pieceAt(9));
    assertEquals(new ByteRange(8, 9), l.range(2));
    assertThrows(IndexOutOfBoundsException.class, () -> l.pieceAt(10));
    assertThrows(IndexOutOfBoundsException.class, () -> l.start(3));
  }

  @Test
  void emptyBlobHasNoPieces() {
    assertEquals(0, new PieceLayout(0, 4).count());
  }

  @Test
  void choosesAboutFourPiecesPerConnectionWithinBounds() {
    long mib = 1 << 20;
    PieceLayout l = PieceLayout.choose(256 * mib, 16, PieceLayout.MIN_PIECE, PieceLayout.MAX_PIECE);
    assertEquals(4 * mib, l.pieceSize());
    assertEquals(64, l.count());
    assertEquals(PieceLayout.MAX_PIECE, PieceLayout.choose(4700 * mib, 16, PieceLayout.MIN_PIECE, PieceLayout.MAX_PIECE).pieceSize());
    assertEquals(PieceLayout.MIN_PIECE, PieceLayout.choose(500, 16, PieceLayout.MIN_PIECE, PieceLayout.MAX_PIECE).pieceSize());
    PieceLayout odd = PieceLayout.choose(100 * mib + 7, 16, PieceLayout.MIN_PIECE, PieceLayout.MAX_PIECE);
    assertEquals(0, odd.pieceSize() % (64 << 10));
    assertTrue(odd.count() >= 16);
  }

  @Test
  void refusesBadArguments() {
    assertThrows(IllegalArgumentException.class, () -> new PieceLayout(-1, 4));
    assertThrows(IllegalArgumentException.class, () -> new PieceLayout(1, 0));
    assertThrows(IllegalArgumentException.class, () -> PieceLayout.choose(1, 0, 1, 2));
  }
}
