package io.pullmesh.store;

import io.pullmesh.core.Digest;
import io.pullmesh.core.RepositoryName;
import java.util.BitSet;

/**
 * The durable state of a download in progress: which pieces of {@code partial/sha256-<hex>.data} are complete and
 * flushed to disk. Written only after the data it describes was fsynced, so after a crash every piece it names
 * is on disk; a piece it does not name is fetched again.
 *
 * @param repository where the blob was asked for, to resume it upstream
 * @param pieceSize the piece size the download used (a resumed download keeps it)
 * @param done the complete pieces
 */
public record PartialRecord(Digest digest, RepositoryName repository, long size, int pieceSize, BitSet done, long updatedAt) {
  public PartialRecord {
    done = (BitSet) done.clone();
  }

  @Override
  public BitSet done() {
    return (BitSet) done.clone();
  }
}
