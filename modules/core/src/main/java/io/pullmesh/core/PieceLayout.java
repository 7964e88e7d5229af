package io.pullmesh.core;

/**
 * How a blob of {@code size} bytes is cut into pieces of {@code pieceSize} bytes (the last one may be shorter).
 * A piece is the unit of fetching, retrying and (later) verifying: one ranged request fetches one piece.
 */
public record PieceLayout(long size, int pieceSize) {
  public static final int MIN_PIECE = 1 << 20;
  public static final int MAX_PIECE = 16 << 20;
  private static final int ALIGN = 64 << 10;

  public PieceLayout {
    if (size < 0) {
      throw new IllegalArgumentException("size must be >= 0, got " + size);
    }
    if (pieceSize <= 0) {
      throw new IllegalArgumentException("piece size must be > 0, got " + pieceSize);
    }
    if ((size + pieceSize - 1) / pieceSize > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("too many pieces for size " + size + " and piece size " + pieceSize);
    }
  }

  /**
   * Picks a piece size that gives each of {@code connections} connections about four pieces, within
   * {@code [minPiece, maxPiece]}, rounded up to 64 KiB. Four pieces per connection keeps the tail short
   * (connections finish close together) while each request stays large enough that its round trip is noise.
   */
  public static PieceLayout choose(long size, int connections, int minPiece, int maxPiece) {
    if (connections < 1 || minPiece < 1 || maxPiece < minPiece) {
      throw new IllegalArgumentException(
          "need connections >= 1 and 1 <= minPiece <= maxPiece, got " + connections + ", " + minPiece + ", " + maxPiece);
    }
    long target = (size + 4L * connections - 1) / (4L * connections);
    long piece = Math.max(minPiece, Math.min(maxPiece, target));
    piece = Math.min(maxPiece, (piece + ALIGN - 1) / ALIGN * ALIGN);
    piece = Math.max(piece, minPiece);
    return new PieceLayout(size, (int) piece);
  }

  public int count() {
    return (int) ((size + pieceSize - 1) / pieceSize);
  }

  public long start(int piece) {
    check(piece);
    return (long) piece * pieceSize;
  }

  public int length(int piece) {
    check(piece);
    return (int) Math.min(pieceSize, size - (long) piece * pieceSize);
  }

  /** The piece holding byte {@code offset}. */
  public int pieceAt(long offset) {
    if (offset < 0 || offset >= size) {
      throw new IndexOutOfBoundsException("offset " + offset + " outside blob of " + size + " bytes");
    }
    return (int) (offset / pieceSize);
  }

  public ByteRange range(int piece) {
    return ByteRange.ofLength(start(piece), length(piece));
  }

  private void check(int piece) {
    if (piece < 0 || piece >= count()) {
      throw new IndexOutOfBoundsException("piece " + piece + " of " + count());
    }
  }
}
