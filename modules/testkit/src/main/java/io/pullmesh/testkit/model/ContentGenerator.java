package io.pullmesh.testkit.model;

import io.pullmesh.core.Digest;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.SplittableRandom;

/**
 * Writes deterministic pseudo-random bytes to a file and hashes them on the way: 64 KiB blocks filled from a
 * {@link SplittableRandom}, so a 256 MiB blob costs a few hundred milliseconds and never sits in memory.
 */
final class ContentGenerator {
  static final int BLOCK = 64 * 1024;

  private ContentGenerator() {}

  /** Writes {@code size} bytes derived from {@code seed} to a temporary file in {@code dir}, then names it by digest. */
  static FakeBlob writeRandom(Path blobDir, long seed, long size, String mediaType) {
    MessageDigest sha = sha256();
    Path tmp = tempFile(blobDir);
    SplittableRandom random = new SplittableRandom(seed);
    byte[] block = new byte[BLOCK];
    ByteBuffer longs = ByteBuffer.wrap(block).order(ByteOrder.LITTLE_ENDIAN);
    try (OutputStream out = Files.newOutputStream(tmp)) {
      long remaining = size;
      while (remaining > 0) {
        longs.clear();
        while (longs.hasRemaining()) {
          longs.putLong(random.nextLong());
        }
        int n = (int) Math.min(BLOCK, remaining);
        sha.update(block, 0, n);
        out.write(block, 0, n);
        remaining -= n;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("writing blob to " + tmp, e);
    }
    return publish(blobDir, tmp, Digest.ofBytes(sha.digest()), size, mediaType);
  }

  /** Writes {@code bytes} (small: a config or a manifest) and names the file by digest. */
  static FakeBlob writeBytes(Path blobDir, byte[] bytes, String mediaType) {
    Digest digest = Digest.ofBytes(sha256().digest(bytes));
    Path tmp = tempFile(blobDir);
    try {
      Files.write(tmp, bytes);
    } catch (IOException e) {
      throw new UncheckedIOException("writing blob to " + tmp, e);
    }
    return publish(blobDir, tmp, digest, bytes.length, mediaType);
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK always has SHA-256", e);
    }
  }

  private static Path tempFile(Path dir) {
    try {
      Files.createDirectories(dir);
      return Files.createTempFile(dir, "blob-", ".tmp");
    } catch (IOException e) {
      throw new UncheckedIOException("creating a temporary file in " + dir, e);
    }
  }

  private static FakeBlob publish(Path dir, Path tmp, Digest digest, long size, String mediaType) {
    Path target = dir.resolve("sha256-" + digest.hex());
    try {
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("renaming " + tmp + " to " + target, e);
    }
    return new FakeBlob(digest, size, mediaType, target);
  }
}
