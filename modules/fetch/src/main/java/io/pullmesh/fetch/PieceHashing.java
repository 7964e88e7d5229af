package io.pullmesh.fetch;

import io.pullmesh.core.PieceLayout;
import io.pullmesh.core.Sha256;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Per-piece SHA-256: checks a piece that just arrived against a published list, and makes the list of a committed blob.
 * Blocking (the io executor). Not the whole-blob hash ({@link PrefixHasher}).
 */
final class PieceHashing {

  private PieceHashing() {}

  /** Whether piece {@code p} of {@code ch} matches its hash in {@code list}. */
  static boolean matches(FileChannel ch, PieceLayout layout, int p, PeerNetwork.PieceHashes list) throws IOException {
    return list.matches(p, sha256(ch, layout.start(p), layout.length(p)).bytes());
  }

  /** The list of the committed blob at {@code blob}: a second pass, from the page cache, off any response's path. */
  static PeerNetwork.PieceHashes of(Path blob, long size, int pieceSize) throws IOException {
    PieceLayout l = new PieceLayout(size, pieceSize);
    byte[] all = new byte[l.count() * 32];
    try (FileChannel f = FileChannel.open(blob, StandardOpenOption.READ)) {
      for (int q = 0; q < l.count(); q++) {
        System.arraycopy(sha256(f, l.start(q), l.length(q)).bytes(), 0, all, q * 32, 32);
      }
    }
    return new PeerNetwork.PieceHashes(size, pieceSize, all);
  }

  /** The list of the committed blob at {@code blob}, or null when it cannot be read (evicted already, most likely). */
  static PeerNetwork.PieceHashes ofCommitted(Path blob, PieceLayout layout) {
    try {
      return of(blob, layout.size(), layout.pieceSize());
    } catch (IOException e) {
      java.util.logging.Logger.getLogger(PieceHashing.class.getName()).fine(() -> "no piece hashes for " + blob + ": " + e);
      return null;
    }
  }

  private static io.pullmesh.core.Digest sha256(FileChannel ch, long start, int length) throws IOException {
    return Sha256.ofRange(ch, start, length, HashReads.buffer(), n -> {});
  }
}
