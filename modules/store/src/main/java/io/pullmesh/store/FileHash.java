package io.pullmesh.store;

import io.pullmesh.core.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.function.LongConsumer;

/**
 * SHA-256 over a range of a file, read through a buffer the caller owns (bounded, reused), telling {@code afterRead}
 * how many bytes each read brought (for progress, or to pace the reads). Blocking. Not for hashing while copying: a
 * copy hashes what it writes.
 */
public final class FileHash {
  private FileHash() {}

  /**
   * @param length bytes to hash from {@code position}; the range must lie within the file
   * @throws IOException when the file is shorter than the range, or cannot be read
   */
  public static Digest sha256(FileChannel ch, long position, long length, ByteBuffer buffer, LongConsumer afterRead) throws IOException {
    MessageDigest sha = sha256();
    long pos = position;
    long end = position + length;
    while (pos < end) {
      buffer.clear();
      buffer.limit((int) Math.min(buffer.capacity(), end - pos));
      int n = ch.read(buffer, pos);
      if (n < 0) {
        throw new IOException("the file ends at " + pos + ", before " + end);
      }
      buffer.flip();
      sha.update(buffer);
      pos += n;
      afterRead.accept(n);
    }
    return Digest.ofBytes(sha.digest());
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
