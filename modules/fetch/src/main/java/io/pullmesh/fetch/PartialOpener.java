package io.pullmesh.fetch;

import io.pullmesh.core.Digest;
import io.pullmesh.core.PieceLayout;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.store.PartialFile;
import io.pullmesh.store.PartialRecord;
import java.io.IOException;
import java.util.Optional;

/**
 * Opens the partial file of a download once the blob's size is known: reserves its room first, then reopens what a
 * previous run left (when it fits) or creates a new file cut in the right pieces. Blocking. Not for writing or
 * committing ({@link PartialFile}).
 */
final class PartialOpener {
  /** The file, its location and layout, and what a previous run left in it (null for a new file). */
  record Opened(BlobLocation location, PartialFile file, PieceLayout layout, PartialRecord resumed) {}

  private PartialOpener() {}

  /** @param pieceSize the piece size of a published hash list, or 0 to choose one */
  static Opened open(BlobDownload.Kit kit, Digest digest, RepositoryName repository, BlobLocation loc, int pieceSize) {
    // reserved against the limit and the disk before the first body byte: a blob that cannot fit is a 507 now, not a
    // 200 that breaks (issue 18); a resumed download needs room only for what it lacks, and its pieces are read and
    // reserved in one step, so another download's reservation cannot evict them in between
    Optional<PartialRecord> had = kit.space().reserveResuming(digest, loc.size(), r -> r.size() == loc.size() && loc.rangeSupported());
    try {
      if (had.isPresent()) {
        return new Opened(loc, kit.files().resumePartial(had.get()), new PieceLayout(loc.size(), had.get().pieceSize()), had.get());
      }
      FetchConfig c = kit.config();
      PieceLayout layout = pieceSize > 0 ? new PieceLayout(loc.size(), pieceSize)
          : PieceLayout.choose(loc.size(), c.connections(), c.minPieceSize(), c.maxPieceSize());
      return new Opened(loc, kit.files().createPartial(digest, loc.size(), repository, layout.pieceSize()), layout, null);
    } catch (IOException e) {
      throw new RegistryException(StorageErrors.code(e), "blob " + digest + ": the cache cannot store it: " + e.getMessage(), e);
    }
  }
}
