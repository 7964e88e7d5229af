package io.pullmesh.fetch;

import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.PieceLayout;
import io.pullmesh.core.RegistryException;
import io.pullmesh.metrics.MetricsRecorder;
import io.pullmesh.store.PartialFile;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.logging.Logger;

/**
 * Makes a download's written bytes readable once they can be relied on, and proves the blob: wakes the readers waiting
 * on bytes as they land, checks each piece that arrives against a published
 * piece-hash list (a bad one is thrown away and fetched again elsewhere, its peer penalised), and hashes the done prefix
 * as it grows until the whole blob's SHA-256 can be compared with its digest. Blocking work runs on the io executor.
 * Not for committing (the download does that once {@link Owner#verified} is called) nor for fetching.
 *
 * <p>It is guarded by the download's lock ({@code guard}), as is the {@link DownloadState} it reads; it calls its owner
 * back outside it.
 */
final class Verifier {
  private static final Logger LOG = Logger.getLogger(Verifier.class.getName());

  /** What verification tells its download. */
  interface Owner {
    /** The whole blob matched its digest: commit it (on the io executor). */
    void verified();

    /** A bad piece was thrown away: fetch it again, and look at the mesh again. */
    void refetch();

    void fail(RegistryException e);
  }

  private final Object guard;
  private final DownloadState state;
  private final Readers readers;
  private final Owner owner;
  private final Digest digest;
  private final MeshTie mesh;
  private final MetricsRecorder metrics;
  private final Executor io;
  private final int maxTries;
  private final PrefixHasher hasher;

  Verifier(Object guard, DownloadState state, Readers readers, Owner owner, Digest digest, MeshTie mesh, BlobDownload.Kit kit) {
    this.guard = guard;
    this.state = state;
    this.readers = readers;
    this.owner = owner;
    this.digest = digest;
    this.mesh = mesh;
    this.metrics = kit.metrics();
    this.io = kit.io();
    this.maxTries = kit.retry().maxTries();
    this.hasher = new PrefixHasher(guard);
  }

  /** Bytes {@code [pos, pos+len)} are in the file: advances the pieces, wakes readers, checks or hashes what completed. */
  void written(long pos, int len, Source source) {
    List<Runnable> wake = new ArrayList<>();
    PieceTable.Arrival a;
    synchronized (guard) {
      if (!state.fetching()) {
        return;
      }
      PieceTable table = state.table();
      a = table.wrote(pos, len, source);
      for (int p = table.layout().pieceAt(pos); p <= table.layout().pieceAt(pos + len - 1); p++) {
        wake.addAll(readers.readable(p));
      }
    }
    Readers.wake(wake);
    a.toCheck().forEach(p -> io.execute(() -> check(p)));
    if (a.newlyDone()) {
      hashFurther();
    }
  }

  /**
   * Checks a piece that just arrived against the published hash list (on the io executor). A piece that matches becomes
   * readable; one that does not is thrown away and fetched again from another source, and a peer that sent it penalised.
   */
  private void check(int p) {
    FileChannel ch;
    PeerNetwork.PieceHashes list;
    PieceLayout layout;
    synchronized (guard) {
      if (!state.fetching()) {
        return;
      }
      ch = state.file().channel();
      list = state.checkList();
      layout = state.table().layout();
    }
    boolean good;
    try {
      good = PieceHashing.matches(ch, layout, p, list);
    } catch (IOException e) {
      owner.fail(new RegistryException(ErrorCode.INTERNAL_ERROR, "reading back piece " + p + " of " + digest.shortHex() + " failed: " + e.getMessage(), e));
      return;
    }
    String peer;
    boolean mixed;
    int tries;
    List<Runnable> wake;
    synchronized (guard) {
      peer = state.table().peerOf(p);
      mixed = state.table().mixedOrigin(p);
      tries = state.table().checked(p, good);
      if (!state.fetching()) {
        return;
      }
      wake = good ? readers.readable(p) : List.of();
    }
    if (good) {
      Readers.wake(wake);
      hashFurther();
      return;
    }
    if (peer != null) {
      metrics.peerPieceFailure(peer, "digest");
      mesh.sentCorrupt(peer, digest.shortHex());
    } else {
      metrics.digestMismatch(); // upstream sent it (or several sources did): caught early, before any client saw it
    }
    LOG.warning(() -> "piece " + p + " of " + digest + " from " + (peer != null ? "peer " + peer : mixed ? "several sources" : "upstream")
        + " does not match the published piece hash; fetching it again" + (peer != null ? " elsewhere" : ""));
    if (tries >= maxTries) {
      owner.fail(new RegistryException(ErrorCode.BLOB_CORRUPT, "blob " + digest + ": piece " + p + " arrived corrupt "
          + maxTries + " times; nothing of it was served or kept"));
      return;
    }
    owner.refetch();
  }

  /** Hashes the done prefix further; once every byte is hashed, compares the digest. */
  void hashFurther() {
    long[] range;
    synchronized (guard) {
      if (!state.fetching()) {
        return;
      }
      PieceTable table = state.table();
      range = hasher.claim(table.donePrefix());
      if (range == null) {
        if (!table.complete() || !hasher.finished(table.layout().size())) {
          return;
        }
        state.stage(BlobDownload.State.VERIFYING);
      }
    }
    io.execute(range == null ? this::compare : () -> hash(range[0], range[1]));
  }

  private void hash(long from, long to) {
    FileChannel ch;
    synchronized (guard) {
      ch = state.file().channel();
    }
    try {
      hasher.hash(ch, from, to);
    } catch (IOException e) {
      synchronized (guard) {
        hasher.abandon();
      }
      owner.fail(new RegistryException(ErrorCode.INTERNAL_ERROR, "reading back " + digest.shortHex() + " to hash it failed: " + e.getMessage(), e));
      return;
    }
    synchronized (guard) {
      hasher.hashed(to);
    }
    hashFurther();
  }

  private void compare() {
    Digest actual = hasher.digest();
    if (actual.equals(digest)) {
      owner.verified();
      return;
    }
    metrics.digestMismatch();
    LOG.warning(() -> "digest mismatch for " + digest + ": upstream bytes hash to " + actual + "; discarded");
    owner.fail(new RegistryException(ErrorCode.BLOB_CORRUPT, "blob " + digest + ": the bytes upstream sent hash to " + actual
        + "; they were discarded and never served as complete"));
  }
}
