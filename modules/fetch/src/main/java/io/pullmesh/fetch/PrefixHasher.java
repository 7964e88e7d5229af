package io.pullmesh.fetch;

import io.pullmesh.core.Digest;
import io.pullmesh.core.Sha256;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;

/**
 * The whole-blob SHA-256 of a download, computed as its done prefix grows: one range at a time, never twice over the
 * same byte, on the io executor. It decides nothing about pieces (the {@link PieceTable} says how far the prefix goes)
 * and commits nothing.
 *
 * <p>{@link #claim}, {@link #hashed}, {@link #abandon} and {@link #finished} are called holding the download's lock
 * ({@code guard}); {@link #hash} runs outside it, by the one task that claimed the range.
 */
final class PrefixHasher {

  private final Object guard;
  private final MessageDigest sha = Sha256.newDigest();
  private boolean running;
  private long hashed;

  PrefixHasher(Object guard) {
    this.guard = guard;
  }

  /** The range {@code [from, to)} to hash next, up to {@code prefix}, or null when a task runs or nothing is new. */
  long[] claim(long prefix) {
    assert Thread.holdsLock(guard);
    if (running || prefix <= hashed) {
      return null;
    }
    running = true;
    return new long[] {hashed, prefix};
  }

  /** Feeds {@code [from, to)} of {@code ch}; by the task that claimed it. */
  void hash(FileChannel ch, long from, long to) throws IOException {
    Sha256.update(sha, ch, from, to, HashReads.buffer(), n -> {});
  }

  void hashed(long to) {
    assert Thread.holdsLock(guard);
    hashed = to;
    running = false;
  }

  void abandon() {
    assert Thread.holdsLock(guard);
    running = false;
  }

  /** Whether every byte of a blob of {@code size} is hashed and no task runs. */
  boolean finished(long size) {
    assert Thread.holdsLock(guard);
    return !running && hashed == size;
  }

  /** The digest of all bytes fed; once, after {@link #finished}. */
  Digest digest() {
    return Digest.ofBytes(sha.digest());
  }
}
