package io.pullmesh.seeder;

import io.pullmesh.core.Digest;
import io.pullmesh.core.Sha256;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.function.LongConsumer;

/** Streams a file into a channel while hashing it: never more than one buffer of it in memory. */
final class BlobCopy {
  private static final int BUFFER = 1 << 20;

  private BlobCopy() {}

  /** What was copied: the SHA-256 of the bytes and how many there were. */
  record Copied(Digest digest, long bytes) {}

  /**
   * Copies {@code source} from its start, to {@code target} at position 0 onwards, until the source ends.
   *
   * @param progress told the bytes copied so far, after each buffer
   */
  static Copied copy(Path source, FileChannel target, LongConsumer progress) throws IOException {
    MessageDigest md = Sha256.newDigest();
    ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER);
    long pos = 0;
    try (FileChannel in = FileChannel.open(source, StandardOpenOption.READ)) {
      while (true) {
        buf.clear();
        int n = in.read(buf);
        if (n < 0) {
          break;
        }
        buf.flip();
        md.update(buf.duplicate());
        while (buf.hasRemaining()) {
          pos += target.write(buf, pos);
        }
        progress.accept(pos);
      }
    }
    return new Copied(Digest.ofBytes(md.digest()), pos);
  }
}
