package io.pullmesh.proxy;

import io.pullmesh.core.Digest;
import io.pullmesh.metrics.MetricsRecorder;
import io.pullmesh.store.BlobRecord;
import io.pullmesh.store.BlobStore;
import io.pullmesh.store.BlobVerifier;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.logging.Logger;

/**
 * Finds committed blobs whose bytes rotted on disk (issue 18: a blob corrupted after commit was served as good until
 * someone ran {@code admin verify}). Every {@code interval} it re-hashes each committed blob not in use, oldest first,
 * at most {@code bytesPerSecond}; and a blob is re-hashed once, in full, before this node first serves it to a peer.
 * A blob that no longer matches its digest is quarantined, counted ({@code pullmesh_scrub_blobs_total{result="corrupt"}},
 * alert PullmeshBlobCorrupt), and handed to {@code lost} (withdrawn from the mesh, fetched again). Passes run on a
 * thread of its own; the check before a peer serve on the {@code peerChecks} executor, once per blob however many peers
 * ask meanwhile, and nobody waits on it holding a thread. Never on an event loop. Not for blobs being downloaded
 * (verified as they commit), nor for serving anything.
 */
final class Scrubber implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(Scrubber.class.getName());
  private static final int CHUNK = 1 << 20;

  private final BlobStore store;
  private final Predicate<Digest> inUse;
  private final MetricsRecorder metrics;
  private final Duration interval;
  private final long bytesPerSecond;
  private final Consumer<Digest> lost;
  private final Executor peerChecks;
  private final ScheduledExecutorService thread;
  /** Blobs hashed good since this process started. */
  private final Set<Digest> verified = ConcurrentHashMap.newKeySet();
  /** Checks before a peer serve that are running, shared by the peers asking meanwhile. */
  private final ConcurrentHashMap<Digest, CompletableFuture<Boolean>> checking = new ConcurrentHashMap<>();

  /**
   * @param interval time between passes; zero for none (the check before a peer serve still runs)
   * @param lost told each blob found corrupt, after it was quarantined
   * @param peerChecks where the index read and the hash before a peer serve run (blocking work: a worker pool)
   */
  Scrubber(BlobStore store, Predicate<Digest> inUse, MetricsRecorder metrics, Duration interval, long bytesPerSecond, Consumer<Digest> lost,
      Executor peerChecks) {
    this.peerChecks = peerChecks;
    this.store = store;
    this.inUse = inUse;
    this.metrics = metrics;
    this.interval = interval;
    this.bytesPerSecond = bytesPerSecond;
    this.lost = lost;
    metrics.scrubCounters();
    this.thread = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "pullmesh-scrub");
      t.setDaemon(true);
      t.setPriority(Thread.MIN_PRIORITY);
      return t;
    });
  }

  /**
   * A blob this process just committed: its download checked its SHA-256 over the bytes on disk, so serving it to a peer
   * need not hash it again (the passes still will, for rot later on). Keeps a mesh's first peer requests for a blob
   * its fetcher just committed from waiting on a second hash of it.
   */
  void trust(Digest d) {
    verified.add(d);
  }

  /** Starts the passes: the first one {@code interval} from now, then every {@code interval}. */
  void start() {
    if (!interval.isZero()) {
      thread.scheduleWithFixedDelay(this::passQuietly, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  private void passQuietly() {
    try {
      pass();
    } catch (RuntimeException e) {
      LOG.warning(() -> "scrub pass failed: " + e);
    }
  }

  /** What a pass found. */
  record Pass(long checked, long bytes, List<Digest> corrupt) {}

  /** One pass over every committed blob not in use, paced to {@code bytesPerSecond}. Blocking. */
  Pass pass() {
    List<BlobRecord> blobs = store.blobs().stream().sorted(Comparator.comparingLong(BlobRecord::createdAt)).toList();
    ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
    Pacer pacer = new Pacer(bytesPerSecond);
    long checked = 0;
    long bytes = 0;
    List<Digest> corrupt = new java.util.ArrayList<>();
    for (BlobRecord r : blobs) {
      if (Thread.currentThread().isInterrupted()) {
        break;
      }
      if (inUse.test(r.digest())) {
        continue;
      }
      Optional<BlobVerifier.Outcome> o = check(r.digest(), buf, pacer::took);
      if (o.isPresent() && o.get() != BlobVerifier.Outcome.GONE) {
        checked++;
        bytes += r.size();
        if (o.get() == BlobVerifier.Outcome.CORRUPT) {
          corrupt.add(r.digest());
        }
      }
    }
    long n = checked;
    LOG.info(() -> "scrub pass: " + n + " blob(s) re-hashed" + (corrupt.isEmpty() ? ", all good" : ", corrupt and quarantined: " + corrupt));
    return new Pass(checked, bytes, List.copyOf(corrupt));
  }

  /**
   * The blob's file, re-hashed first if it was not since this process started; empty when it is not in the cache or
   * just turned out corrupt (and was quarantined). Never blocks: the work runs on {@code peerChecks}, and a peer asking
   * while the blob is being hashed for another waits on that same hash, holding no thread. Completes on a
   * {@code peerChecks} thread (or on the caller's, when that hash is over by then).
   */
  CompletableFuture<Optional<Path>> verifiedForPeer(Digest d) {
    CompletableFuture<Boolean> good;
    if (verified.contains(d)) {
      good = CompletableFuture.supplyAsync(() -> store.lookup(d).isPresent(), peerChecks);
    } else {
      CompletableFuture<Boolean> mine = new CompletableFuture<>();
      CompletableFuture<Boolean> running = checking.putIfAbsent(d, mine);
      if (running == null) {
        running = mine;
        peerChecks.execute(() -> hashForPeer(d, mine));
      }
      good = running;
    }
    return good.thenApply(ok -> ok ? Optional.of(store.blobPath(d)) : Optional.<Path>empty());
  }

  /** Checks {@code d} for the peers waiting on {@code result}, completed outside any lock; blocking. */
  private void hashForPeer(Digest d, CompletableFuture<Boolean> result) {
    boolean good;
    try {
      good = store.lookup(d).isPresent()
          && check(d, ByteBuffer.allocate(CHUNK), n -> { }).map(o -> o == BlobVerifier.Outcome.GOOD).orElse(false);
    } catch (RuntimeException e) {
      LOG.warning(() -> "scrub: checking " + d + " for a peer: " + e);
      good = false;
    } finally {
      checking.remove(d, result);
    }
    result.complete(good);
  }

  /** Re-hashes one blob; empty when it could not be read (left where it is). */
  private Optional<BlobVerifier.Outcome> check(Digest d, ByteBuffer buf, java.util.function.LongConsumer afterRead) {
    BlobVerifier.Outcome o;
    long[] read = {0};
    try {
      o = BlobVerifier.verifyOne(store, d, buf, n -> {
        read[0] += n;
        afterRead.accept(n);
      });
    } catch (IOException e) {
      metrics.scrubbed("unreadable", 0);
      LOG.warning(() -> "scrub: cannot read " + d + ": " + e.getMessage());
      return Optional.empty();
    }
    switch (o) {
      case GOOD -> {
        verified.add(d);
        metrics.scrubbed("good", read[0]);
      }
      case CORRUPT -> {
        verified.remove(d);
        metrics.scrubbed("corrupt", read[0]);
        LOG.warning(() -> "blob " + d + " no longer matches its digest (bit rot, or changed behind pullmesh's back): quarantined,"
            + " it will be fetched again");
        lost.accept(d);
      }
      case GONE -> { }
      default -> throw new IllegalStateException(o.toString());
    }
    return Optional.of(o);
  }

  /** Keeps reads under a rate by sleeping when they run ahead of it. */
  private static final class Pacer {
    private final long bytesPerSecond;
    private final long start = System.nanoTime();
    private long total;

    Pacer(long bytesPerSecond) {
      this.bytesPerSecond = bytesPerSecond;
    }

    void took(long n) {
      total += n;
      if (bytesPerSecond <= 0) {
        return;
      }
      long due = start + total * 1_000_000_000L / bytesPerSecond;
      long wait = due - System.nanoTime();
      if (wait > 0) {
        try {
          TimeUnit.NANOSECONDS.sleep(wait);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }

  @Override
  public void close() {
    thread.shutdownNow();
  }
}
