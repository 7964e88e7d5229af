package io.pullmesh.loadtest;

import io.pullmesh.core.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** SHA-256 of downloaded files, so that a fast wrong answer cannot win. Always outside the timed windows. */
final class Hashing {
  private Hashing() {}

  static Digest sha256(Path file) throws IOException {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      while (ch.read(buf) >= 0) {
        buf.flip();
        md.update(buf);
        buf.clear();
      }
    }
    return Digest.ofBytes(md.digest());
  }

  /**
   * Checks that {@code file} holds exactly the blob: its size and SHA-256.
   *
   * @throws IllegalStateException naming what differs
   */
  static void verify(Path file, Digest want, long size, String what) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IllegalStateException(what + ": " + file + " is missing");
    }
    long actualSize = Files.size(file);
    if (actualSize != size) {
      throw new IllegalStateException(what + ": " + file + " has " + actualSize + " bytes, want " + size);
    }
    Digest got = sha256(file);
    if (!got.equals(want)) {
      throw new IllegalStateException(what + ": " + file + " has digest " + got + ", want " + want);
    }
  }
}
