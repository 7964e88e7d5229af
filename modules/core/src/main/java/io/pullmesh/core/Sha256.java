package io.pullmesh.core;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.function.LongConsumer;

/**
 * SHA-256 over a range of a file, the one place the project hashes a file: the download's whole-blob
 * hash and piece checks, the store's scrubber and the seeder's import. A file range is read through a buffer the
 * caller owns (bounded, reused). Blocking. Not for hashing while copying: a copy hashes what it writes.
 */
public final class Sha256 {
  private Sha256() {}

  /** A new SHA-256 {@link MessageDigest}. */
  public static MessageDigest newDigest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  /**
   * The SHA-256 of {@code length} bytes of {@code ch} from {@code position}.
   *
   * @param afterRead told how many bytes each read brought (for progress, or to pace the reads)
   * @throws IOException when the file is shorter than the range, or cannot be read
   */
  public static Digest ofRange(FileChannel ch, long position, long length, ByteBuffer buffer, LongConsumer afterRead) throws IOException {
    MessageDigest sha = newDigest();
    update(sha, ch, position, position + length, buffer, afterRead);
    return Digest.ofBytes(sha.digest());
  }

  /**
   * Feeds bytes {@code [from, to)} of {@code ch} to {@code sha} (an incremental hash carried over calls).
   *
   * @throws IOException when the file is shorter than the range, or cannot be read
   */
  public static void update(MessageDigest sha, FileChannel ch, long from, long to, ByteBuffer buffer, LongConsumer afterRead)
      throws IOException {
    long pos = from;
    while (pos < to) {
      buffer.clear();
      buffer.limit((int) Math.min(buffer.capacity(), to - pos));
      int n = ch.read(buffer, pos);
      if (n < 0) {
        throw new IOException("the file ends at " + pos + ", before " + to);
      }
      buffer.flip();
      sha.update(buffer);
      pos += n;
      afterRead.accept(n);
    }
  }
}
