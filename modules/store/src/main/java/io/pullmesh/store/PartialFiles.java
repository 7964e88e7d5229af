package io.pullmesh.store;

import io.pullmesh.core.Digest;
import io.pullmesh.core.RepositoryName;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The part of the {@link BlobStore} a download uses: its partial file (new, or left by a previous run), and where the
 * blob lands once committed. Narrow so that a test can put a failing disk under a download. Blocking.
 */
public interface PartialFiles {
  /** The piece map of a download that can be resumed. */
  Optional<PartialRecord> partial(Digest d);

  /** Creates the partial file of a new download, of {@code size} bytes cut in pieces of {@code pieceSize}. */
  PartialFile createPartial(Digest d, long size, RepositoryName repository, int pieceSize) throws IOException;

  /** Reopens the partial file a previous run left, keeping its bytes. */
  PartialFile resumePartial(PartialRecord r) throws IOException;

  /** Deletes the partial file of {@code d} and its piece map, if any. */
  void discardPartial(Digest d);

  /** Where the committed blob {@code d} is. */
  Path blobPath(Digest d);
}
