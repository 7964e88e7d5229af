package io.pullmesh.store;

import io.pullmesh.core.Digest;
import io.pullmesh.core.RepositoryName;
import java.util.Arrays;
import java.util.BitSet;

/**
 * The durable state of a download in progress: which pieces of {@code partial/sha256-<hex>.data} are complete and
 * flushed to disk, and how far each unfinished one got. Written only after the data it describes was fsynced, so after
 * a crash every piece it names is on disk and every prefix it records is too; the rest is fetched again (issue 18: a
 * SIGKILL used to lose every byte of the pieces in flight, 1.38x the blob fetched in all).
 *
 * @param repository where the blob was asked for, to resume it upstream
 * @param pieceSize the piece size the download used (a resumed download keeps it)
 * @param done the complete pieces
 * @param filled per piece, the bytes from its start known to be on disk; meaningful for pieces not done (empty: none)
 */
public record PartialRecord(Digest digest, RepositoryName repository, long size, int pieceSize, BitSet done, long updatedAt, int[] filled) {
  public PartialRecord {
    done = (BitSet) done.clone();
    filled = filled.clone();
  }

  /** A record of complete pieces only. */
  public PartialRecord(Digest digest, RepositoryName repository, long size, int pieceSize, BitSet done, long updatedAt) {
    this(digest, repository, size, pieceSize, done, updatedAt, new int[0]);
  }

  @Override
  public BitSet done() {
    return (BitSet) done.clone();
  }

  @Override
  public int[] filled() {
    return filled.clone();
  }

  /** The bytes of piece {@code p} on disk: all of it when done, else its recorded prefix. */
  public long onDisk(int p) {
    long length = Math.min(pieceSize, size - (long) p * pieceSize);
    return done.get(p) ? length : p < filled.length ? Math.min(length, filled[p]) : 0;
  }

  /** Every byte on disk: the done pieces and the prefixes. */
  public long bytesOnDisk() {
    long sum = 0;
    int n = (int) ((size + pieceSize - 1) / pieceSize);
    for (int p = 0; p < n; p++) {
      sum += onDisk(p);
    }
    return sum;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PartialRecord r && r.digest.equals(digest) && r.repository.equals(repository) && r.size == size
        && r.pieceSize == pieceSize && r.done.equals(done) && r.updatedAt == updatedAt && Arrays.equals(r.filled, filled);
  }

  @Override
  public int hashCode() {
    return digest.hashCode();
  }

  @Override
  public String toString() {
    return "PartialRecord[" + digest.shortHex() + ", " + done.cardinality() + " pieces done, " + bytesOnDisk() + " bytes on disk]";
  }
}
