package io.pullmesh.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.logging.Logger;

/**
 * A file of real, allocated bytes the cache keeps on its disk so that it can always start (issue 18: on a disk other
 * programs filled, RocksDB could not write and the node would not start). When the disk is nearly full at start, the
 * ballast is deleted before the index opens, giving RocksDB room to replay its log and the node room to evict; it is
 * made again once the disk has room. Not a quota: downloads keep {@link SpaceManager#DISK_RESERVE} free besides.
 */
final class Ballast {
  private static final Logger LOG = Logger.getLogger(Ballast.class.getName());
  static final long SIZE = 8L << 20;
  static final String NAME = "ballast";

  private Ballast() {}

  /** Before the index opens: frees the ballast when the disk has less than twice its size free. */
  static void makeRoomToStart(Path root) {
    Path f = root.resolve(NAME);
    if (Files.exists(f) && usable(root) < 2 * SIZE) {
      try {
        Files.delete(f);
        LOG.warning(() -> "the disk holding " + root + " is full: freed the " + (SIZE >> 20) + " MiB ballast so the cache can open");
      } catch (IOException e) {
        LOG.warning(() -> "cannot delete " + f + ": " + e.getMessage());
      }
    }
  }

  /** Makes the ballast, with real zeros (not a sparse hole), when it is missing and the disk has room for it and more. */
  static void ensure(Path root) {
    Path f = root.resolve(NAME);
    if (Files.exists(f) || usable(root) < 4 * SIZE) {
      return;
    }
    Path tmp = root.resolve(NAME + ".tmp");
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
      ByteBuffer zeros = ByteBuffer.allocate(1 << 20);
      for (long written = 0; written < SIZE; ) {
        zeros.clear();
        written += ch.write(zeros, written);
      }
      ch.force(true);
    } catch (IOException e) {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException ignored) {
        // nothing more to do
      }
      return;
    }
    try {
      Files.move(tmp, f, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      LOG.fine(() -> "cannot keep the ballast: " + e.getMessage());
    }
  }

  static long usable(Path root) {
    try {
      return Files.getFileStore(root).getUsableSpace();
    } catch (IOException e) {
      return 0;
    }
  }
}
