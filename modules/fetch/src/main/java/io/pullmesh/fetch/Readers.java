package io.pullmesh.fetch;

import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;

/**
 * The clients reading one download while it runs: where each reads (what the scheduler serves first), who waits for
 * which piece, and the reads themselves, delivered on the reader's own context. Not for deciding what is readable (the
 * download answers that) nor for fetching.
 *
 * <p>Its maps are guarded by the download's lock ({@code guard}), as is the {@link DownloadState} it reads; wake-ups and
 * reads run outside it.
 */
final class Readers {
  private record Waiter(long position, Runnable retry, Context context) {
    void wake() {
      context.runOnContext(v -> retry.run());
    }
  }

  private final Object guard;
  private final DownloadState state;
  private final java.util.function.IntPredicate idle;
  private final Runnable fetchSoon;
  private final Runnable lastLeft;
  private final Digest digest;
  private final Vertx vertx;
  private final Executor io;
  private final Map<Integer, List<Waiter>> waiters = new HashMap<>();
  private final Map<Reader, Integer> cursors = new IdentityHashMap<>();
  private int count;

  /**
   * @param idle whether a reader waiting at a piece should start a lane for it (called under the lock)
   * @param fetchSoon starts lanes for a reader waiting on a piece nobody fetches (called outside the lock)
   * @param lastLeft the last reader left a download that is over: close its file (called outside the lock)
   */
  Readers(Object guard, DownloadState state, java.util.function.IntPredicate idle, Runnable fetchSoon, Runnable lastLeft, Digest digest,
      Vertx vertx, Executor io) {
    this.guard = guard;
    this.state = state;
    this.idle = idle;
    this.fetchSoon = fetchSoon;
    this.lastLeft = lastLeft;
    this.digest = digest;
    this.vertx = vertx;
    this.io = io;
  }

  /** A new reader; under the lock. */
  BlobDownload.Reader open() {
    assert Thread.holdsLock(guard);
    count++;
    return new Reader();
  }

  int count() {
    return count;
  }

  /** The pieces readers are at or wait for; under the lock. */
  int[] cursors() {
    int[] out = new int[cursors.size() + waiters.size()];
    int i = 0;
    for (int c : waiters.keySet()) {
      out[i++] = c;
    }
    for (int c : cursors.values()) {
      out[i++] = c;
    }
    return out;
  }

  /** Takes the waiters of piece {@code p} that can read now; under the lock. Wake them with {@link #wake} outside it. */
  List<Runnable> readable(int p) {
    assert Thread.holdsLock(guard);
    List<Waiter> ws = waiters.get(p);
    if (ws == null) {
      return List.of();
    }
    List<Runnable> out = new ArrayList<>();
    ws.removeIf(w -> state.availableAt(w.position) > 0 && out.add(w::wake));
    if (ws.isEmpty()) {
      waiters.remove(p);
    }
    return out;
  }

  /** Takes every waiter (the download ended); under the lock. */
  List<Runnable> all() {
    assert Thread.holdsLock(guard);
    List<Runnable> out = new ArrayList<>();
    waiters.values().forEach(ws -> ws.forEach(w -> out.add(w::wake)));
    waiters.clear();
    return out;
  }

  static void wake(List<Runnable> wake) {
    wake.forEach(Runnable::run);
  }

  /** A client reading the blob while it downloads. Use from one Vert.x context. */
  private final class Reader implements BlobDownload.Reader {
    private boolean closed;

    @Override
    public Future<Chunk> read(long position, int max) {
      Context ctx = vertx.getOrCreateContext();
      Promise<Chunk> p = Promise.promise();
      attempt(position, max, ctx, p);
      return p.future();
    }

    private void attempt(long position, int max, Context ctx, Promise<Chunk> p) {
      long available = 0;
      FileChannel ch;
      RegistryException failed;
      boolean wanted = false;
      synchronized (guard) {
        failed = state.failure();
        ch = failed == null ? state.file().channel() : null;
        if (failed == null && (position < 0 || position >= state.size())) {
          failed = new RegistryException(ErrorCode.INTERNAL_ERROR, "read at " + position + " outside blob of " + state.size() + " bytes");
        } else if (failed == null) {
          int piece = state.table().layout().pieceAt(position);
          cursors.put(this, piece);
          available = state.availableAt(position);
          if (available == 0) {
            waiters.computeIfAbsent(piece, k -> new ArrayList<>()).add(new Waiter(position, () -> attempt(position, max, ctx, p), ctx));
            wanted = idle.test(piece);
          }
        }
      }
      if (failed != null) {
        RegistryException f = failed;
        ctx.runOnContext(v -> p.tryFail(f));
        return;
      }
      if (available == 0) {
        if (wanted) {
          fetchSoon.run();
        }
        return;
      }
      int n = (int) Math.min(available, max);
      io.execute(() -> {
        try {
          Chunk out = Chunk.read(ch, position, n);
          ctx.runOnContext(v -> {
            if (!p.tryComplete(out)) {
              out.release();
            }
          });
        } catch (IOException e) {
          RegistryException f;
          synchronized (guard) {
            f = state.failure();
          }
          RegistryException err = f != null ? f : new RegistryException(ErrorCode.INTERNAL_ERROR, "reading " + digest.shortHex() + ": " + e, e);
          ctx.runOnContext(v -> p.tryFail(err));
        }
      });
    }

    @Override
    public void close() {
      boolean last;
      synchronized (guard) {
        if (closed) {
          return;
        }
        closed = true;
        cursors.remove(this);
        count--;
        last = count == 0 && state.over();
      }
      if (last) {
        lastLeft.run();
      }
    }
  }
}
