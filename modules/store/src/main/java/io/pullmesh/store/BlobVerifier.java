package io.pullmesh.store;

import io.pullmesh.core.Digest;
import io.pullmesh.core.Sha256;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * Re-hashes every committed blob and quarantines those whose bytes no longer match their digest (bit rot, a
 * file changed behind pullmesh's back). Blocking; run it on a worker or from the command line.
 */
public final class BlobVerifier {
  private static final int CHUNK = 1 << 20;

  /** Progress, reported after each blob. */
  public interface Progress {
    void update(long blobsDone, long blobsTotal, long bytesDone, long bytesTotal);
  }

  /**
   * What a run found.
   *
   * @param corrupt blobs whose bytes did not match (moved to {@code quarantine/})
   * @param skipped blobs not checked because they were in use (checked again next run)
   * @param unreadable blobs that could not be read, with why
   */
  public record Report(long checked, long bytes, List<Digest> corrupt, List<Digest> skipped, List<String> unreadable) {
    public boolean clean() {
      return corrupt.isEmpty() && unreadable.isEmpty();
    }
  }

  private BlobVerifier() {}

  /**
   * Re-hashes every committed blob with {@link #verifyOne}; one evicted meanwhile is counted as checked, and is neither
   * corrupt nor unreadable.
   *
   * @param skip blobs to leave alone this time (being served: moving their file would not stop the response)
   */
  public static Report verify(BlobStore store, Predicate<Digest> skip, Progress progress) {
    List<BlobRecord> all = store.blobs();
    long total = 0;
    for (BlobRecord r : all) {
      total += r.size();
    }
    List<Digest> corrupt = new ArrayList<>();
    List<Digest> skipped = new ArrayList<>();
    List<String> unreadable = new ArrayList<>();
    long bytes = 0;
    long done = 0;
    ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
    for (BlobRecord r : all) {
      if (skip.test(r.digest())) {
        skipped.add(r.digest());
      } else {
        try {
          if (verifyOne(store, r.digest(), buf, n -> { }) == Outcome.CORRUPT) {
            corrupt.add(r.digest());
          }
        } catch (IOException e) {
          unreadable.add(r.digest() + ": " + e.getMessage());
        }
      }
      bytes += r.size();
      done++;
      progress.update(done, all.size(), bytes, total);
    }
    return new Report(done - skipped.size(), bytes, corrupt, skipped, unreadable);
  }

  /** What checking one blob found. */
  public enum Outcome {
    /** Its bytes match its digest. */
    GOOD,
    /** They do not: it was moved to {@code quarantine/}. */
    CORRUPT,
    /** It is no longer in the cache (evicted meanwhile). */
    GONE
  }

  /**
   * Re-hashes one committed blob, quarantining it when its bytes no longer match.
   *
   * @param afterRead told the size of each read (to pace reads, or count them)
   * @throws IOException when the file cannot be read (it is left where it is)
   */
  public static Outcome verifyOne(BlobStore store, Digest digest, ByteBuffer buf, java.util.function.LongConsumer afterRead) throws IOException {
    java.util.Optional<BlobRecord> r = store.lookup(digest);
    if (r.isEmpty()) {
      return Outcome.GONE;
    }
    Digest actual;
    try {
      actual = hash(store, r.get(), buf, afterRead);
    } catch (java.nio.file.NoSuchFileException e) {
      return Outcome.GONE;
    }
    if (actual.equals(digest)) {
      return Outcome.GOOD;
    }
    store.quarantine(digest);
    return Outcome.CORRUPT;
  }

  private static Digest hash(BlobStore store, BlobRecord r, ByteBuffer buf, java.util.function.LongConsumer afterRead) throws IOException {
    try (FileChannel ch = FileChannel.open(store.blobPath(r.digest()), StandardOpenOption.READ)) {
      // the whole file as it is now: one of another size than recorded hashes wrong, and is reported
      return Sha256.ofRange(ch, 0, ch.size(), buf, afterRead);
    }
  }
}
