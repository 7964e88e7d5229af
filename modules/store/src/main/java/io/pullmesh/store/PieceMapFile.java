package io.pullmesh.store;

import io.pullmesh.core.Digest;
import io.pullmesh.core.RepositoryName;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;
import java.util.Optional;

/**
 * The piece map of a download, in a small file beside its data ({@code partial/sha256-<hex>.pieces}). The file
 * gets its full size when the download starts, and afterwards only its body is rewritten in place: recording
 * progress never needs new disk space, so it works on a disk that has just filled up (where a database write
 * would fail). A torn rewrite is harmless: the set of done pieces only grows, so any mix of an old and a new
 * bitmap names a subset of the new one, whose pieces were all flushed before it was written; the per-piece prefixes
 * carry a CRC-32, and prefixes whose CRC does not match are read as none.
 *
 * <pre>
 *   version 2: "PMPC" 2 size(8) pieceSize(4) updatedAt(8) repoLength(2) repo(UTF-8) pieces(4) bitmap(ceil(pieces/8))
 *              filled(4 x pieces) crc32(filled)(4)
 *   version 1: the same up to the bitmap (read, and updated in place, as written by earlier builds)
 * </pre>
 */
final class PieceMapFile {
  private static final byte[] MAGIC = "PMPC".getBytes(StandardCharsets.US_ASCII);
  private static final byte V1 = 1;
  private static final byte VERSION = 2;

  private PieceMapFile() {}

  private static int pieces(long size, int pieceSize) {
    return (int) ((size + pieceSize - 1) / pieceSize);
  }

  private static int headerLength(byte[] repo) {
    return MAGIC.length + 1 + 8 + 4 + 8 + 2 + repo.length + 4;
  }

  private static int v1Length(byte[] repo, int n) {
    return headerLength(repo) + (n + 7) / 8;
  }

  private static int length(byte[] repo, int n) {
    return v1Length(repo, n) + 4 * n + 4;
  }

  /** Creates the file at its final size, with an empty bitmap, and flushes it. */
  static void create(Path file, PartialRecord r) throws IOException {
    byte[] repo = r.repository().value().getBytes(StandardCharsets.UTF_8);
    int n = pieces(r.size(), r.pieceSize());
    ByteBuffer b = ByteBuffer.allocate(length(repo, n));
    b.put(MAGIC).put(VERSION).putLong(r.size()).putInt(r.pieceSize()).putLong(r.updatedAt()).putShort((short) repo.length)
        .put(repo).putInt(n);
    writeBitmap(b, r.done(), n);
    b.put(filledWithCrc(r.filled(), n));
    b.flip();
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
  }

  /** Rewrites the bitmap, the prefixes (version 2) and the time in place and flushes; needs no new disk space. */
  static void update(Path file, PartialRecord r) throws IOException {
    byte[] repo = r.repository().value().getBytes(StandardCharsets.UTF_8);
    int n = pieces(r.size(), r.pieceSize());
    ByteBuffer time = ByteBuffer.allocate(8).putLong(r.updatedAt());
    time.flip();
    ByteBuffer bits = ByteBuffer.allocate((n + 7) / 8);
    writeBitmap(bits, r.done(), n);
    bits.flip();
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      boolean v2 = ch.size() == length(repo, n);
      if (!v2 && ch.size() != v1Length(repo, n)) {
        throw new IOException("piece map " + file.getFileName() + " does not match its download");
      }
      ch.write(bits, headerLength(repo));
      if (v2) {
        ch.write(filledWithCrc(r.filled(), n), v1Length(repo, n));
      }
      ch.write(time, MAGIC.length + 1 + 8 + 4);
      ch.force(false);
    }
  }

  private static ByteBuffer filledWithCrc(int[] filled, int n) {
    ByteBuffer b = ByteBuffer.allocate(4 * n + 4);
    for (int p = 0; p < n; p++) {
      b.putInt(p < filled.length ? Math.max(0, filled[p]) : 0);
    }
    java.util.zip.CRC32 crc = new java.util.zip.CRC32();
    crc.update(b.array(), 0, 4 * n);
    b.putInt((int) crc.getValue());
    b.flip();
    return b;
  }

  private static void writeBitmap(ByteBuffer b, BitSet done, int n) {
    byte[] bytes = new byte[(n + 7) / 8];
    for (int p = done.nextSetBit(0); p >= 0 && p < n; p = done.nextSetBit(p + 1)) {
      bytes[p >> 3] |= (byte) (1 << (p & 7));
    }
    b.put(bytes);
  }

  /** The piece map in {@code file}, or empty when it is missing or not a valid one. */
  static Optional<PartialRecord> read(Path file, Digest digest) {
    try {
      ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file));
      byte[] magic = new byte[MAGIC.length];
      b.get(magic);
      byte version = b.get();
      if (!java.util.Arrays.equals(magic, MAGIC) || (version != V1 && version != VERSION)) {
        return Optional.empty();
      }
      long size = b.getLong();
      int pieceSize = b.getInt();
      long updated = b.getLong();
      byte[] repo = new byte[b.getShort()];
      b.get(repo);
      int n = b.getInt();
      int body = version == V1 ? (n + 7) / 8 : (n + 7) / 8 + 4 * n + 4;
      if (pieceSize <= 0 || size < 0 || n != pieces(size, pieceSize) || b.remaining() != body) {
        return Optional.empty();
      }
      BitSet done = new BitSet(n);
      for (int p = 0; p < n; p++) {
        if ((b.get(headerLength(repo) + (p >> 3)) & (1 << (p & 7))) != 0) {
          done.set(p);
        }
      }
      int[] filled = new int[0];
      if (version == VERSION) {
        int at = v1Length(repo, n);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(b.array(), at, 4 * n);
        if ((int) crc.getValue() == b.getInt(at + 4 * n)) {
          filled = new int[n];
          for (int p = 0; p < n; p++) {
            filled[p] = Math.max(0, b.getInt(at + 4 * p));
          }
        }
      }
      return Optional.of(new PartialRecord(digest, RepositoryName.parse(new String(repo, StandardCharsets.UTF_8)), size,
          pieceSize, done, updated, filled));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }
}
