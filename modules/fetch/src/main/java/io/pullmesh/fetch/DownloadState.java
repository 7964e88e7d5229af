package io.pullmesh.fetch;

import io.pullmesh.core.RegistryException;
import io.pullmesh.store.PartialFile;

/**
 * What one download knows, guarded by its lock ({@code guard}): where it is in its life and why it failed, its pieces,
 * its partial file, and the piece-hash list it checks arrivals against. Shared by the download's parts, which read it
 * holding the lock (asserted) and act through their owner. It answers from its fields and does nothing else.
 */
final class DownloadState {
  private final Object guard;
  private BlobDownload.State stage = BlobDownload.State.LOCATING;
  private RegistryException failure;
  private PieceTable table;
  private PartialFile file;
  private PartialWriter writer;
  private PeerNetwork.PieceHashes checkList;

  DownloadState(Object guard) {
    this.guard = guard;
  }

  private void locked() {
    assert Thread.holdsLock(guard) : "a download's state is read and changed under its lock";
  }

  BlobDownload.State stage() {
    locked();
    return stage;
  }

  boolean fetching() {
    locked();
    return stage == BlobDownload.State.FETCHING;
  }

  /** Committed or failed. */
  boolean over() {
    locked();
    return stage == BlobDownload.State.COMMITTED || stage == BlobDownload.State.FAILED;
  }

  /** Moves to {@code next}. */
  void stage(BlobDownload.State next) {
    locked();
    stage = next;
  }

  /** Fails, once: false when the download was over already. */
  boolean fail(RegistryException e) {
    locked();
    if (over()) {
      return false;
    }
    stage = BlobDownload.State.FAILED;
    failure = e;
    return true;
  }

  RegistryException failure() {
    locked();
    return failure;
  }

  /** The partial file is open: fetching starts. */
  void opened(PartialFile file, PartialWriter writer, PieceTable table) {
    locked();
    this.file = file;
    this.writer = writer;
    this.table = table;
    this.stage = BlobDownload.State.FETCHING;
  }

  /** The pieces; null before the file is open. */
  PieceTable table() {
    locked();
    return table;
  }

  /** The partial file; null before it is open. */
  PartialFile file() {
    locked();
    return file;
  }

  PartialWriter writer() {
    locked();
    return writer;
  }

  PeerNetwork.PieceHashes checkList() {
    locked();
    return checkList;
  }

  /** Checks pieces on arrival against the mesh's piece hashes from now on, once a list that fits the layout is published. */
  void adoptCheckList(MeshTie mesh) {
    locked();
    if (checkList == null && table != null && (checkList = mesh.checkList(table.layout())) != null) {
      table.requireChecks();
    }
  }

  long size() {
    locked();
    return table == null ? -1 : table.layout().size();
  }

  /** Contiguous bytes readable at {@code position}: all that is left once the blob is verified. */
  long availableAt(long position) {
    locked();
    return stage == BlobDownload.State.COMMITTED || stage == BlobDownload.State.VERIFYING ? table.layout().size() - position
        : table.availableAt(position);
  }
}
