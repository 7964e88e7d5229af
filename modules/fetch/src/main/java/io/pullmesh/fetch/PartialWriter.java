package io.pullmesh.fetch;

import io.pullmesh.core.Digest;
import io.pullmesh.store.PartialFile;
import io.pullmesh.store.SpaceManager;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.logging.Logger;

/**
 * Writes a download's bytes into its partial file, counting them against the space manager. When the disk is full it
 * asks the space manager to evict and tries again (twice), then fails with the disk's error. Blocking (the io
 * executor); not for deciding what the download does after (the download maps the error with {@link StorageErrors}).
 */
final class PartialWriter {
  private static final Logger LOG = Logger.getLogger(PartialWriter.class.getName());
  /** The least room freed when the disk is full under a download. */
  private static final long ENOSPC_MIN_FREE = 1L << 20;

  private final Digest digest;
  private final PartialFile file;
  private final SpaceManager space;
  private final Object guard;
  private final PieceTable table;

  /** @param table the download's pieces, guarded by {@code guard}: what is still to write is what evicting must free */
  PartialWriter(Digest digest, PartialFile file, SpaceManager space, Object guard, PieceTable table) {
    this.digest = digest;
    this.file = file;
    this.space = space;
    this.guard = guard;
    this.table = table;
  }

  /** What the download still has to write (its file is sparse): evicting that much lets it finish. */
  private long stillToWrite() {
    synchronized (guard) {
      return table.layout().size() - table.bytesDone();
    }
  }

  void writeFully(ByteBuffer bb, long pos) throws IOException {
    long at = pos;
    int tries = 0;
    while (bb.hasRemaining()) {
      try {
        int n = file.write(bb, at);
        at += n;
        space.wrote(digest, n);
      } catch (IOException e) {
        if (!StorageErrors.isDiskFull(e) || tries++ >= 2 || !space.makeRoom(Math.max(ENOSPC_MIN_FREE, stillToWrite()), ENOSPC_MIN_FREE)) {
          throw e;
        }
        LOG.warning(() -> "disk full while writing " + digest.shortHex() + "; made room to go on");
      }
    }
  }
}
