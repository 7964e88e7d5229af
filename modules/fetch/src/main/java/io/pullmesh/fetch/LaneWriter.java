package io.pullmesh.fetch;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.function.LongSupplier;

/**
 * Streams one body into the partial file at its range: chunks are queued and written in order by one task at a time on
 * the io executor; the body is paused while more than {@link #HIGH_WATER} bytes wait, and while the node's
 * {@link LanePacer} has not granted it more to read (the upstream cap, the memory budget). It reports to its download only
 * after its last write finished, so a retried piece never races the writes of the try before it. Not for deciding
 * what a failure means ({@link RetryPolicy}) nor for stall detection (it only records when data last came, and whether
 * the pacer holds it).
 *
 * <p>Thread-safety: its queue is guarded by {@code this}; nothing is called out under it.
 */
final class LaneWriter {
  /** Bytes a lane may have waiting for the disk before it is paused: bounds heap per download to N MiB. */
  static final long HIGH_WATER = 1L << 20;
  static final long LOW_WATER = 256L << 10;

  /** Where the bytes go, and whom the lane tells. */
  interface Target {
    /** Writes all of {@code bytes} at {@code position} (blocking, on the io executor). */
    void write(ByteBuffer bytes, long position) throws IOException;

    /** Bytes arrived from the lane's source (before they are written): for the byte counts. */
    void arrived(Source source, int bytes);

    /** Bytes {@code [position, position+length)} are in the file. */
    void written(long position, int length, Source source);

    /** Writing failed: the disk's error. */
    void writeFailed(IOException e);

    /** The lane is over after its last write: {@code error} null when its body ended (complete or not). */
    void ended(LaneWriter lane, Throwable error);
  }

  /** A piece's lane, or -1 for the whole-body stream. */
  final int piece;
  final Source source;
  final Body body;
  private final long end;
  private final Executor io;
  private final Executor loop;
  private final Target target;
  private final LongSupplier nanoTime;
  private final LanePacer.Pace pace;

  private final ArrayDeque<Buffer> queue = new ArrayDeque<>();
  // guarded by this
  private long queued;
  private boolean writing;
  private boolean ended;
  private Throwable error;
  private boolean reported;
  private boolean paused;
  // touched by the one running write task, read after it reported
  private long position;
  private long written;
  private volatile long lastData;
  /** When the pacer last let the lane read on after holding it, on the ticker. */
  private volatile long lastReleased;
  private volatile Throwable cutBy;
  /** When the lane started, on the ticker. */
  final long startedNanos;
  private volatile long received;

  /**
   * @param loop runs body calls (resume) on the body's own context
   * @param pacer the node's pacer; the lane is paced as a lane of {@code download}
   */
  LaneWriter(int piece, Source source, long from, long to, Body body, Executor io, Executor loop, Target target, LongSupplier nanoTime,
      LanePacer pacer, Object download) {
    this.piece = piece;
    this.source = source;
    this.position = from;
    this.end = to;
    this.body = body;
    this.io = io;
    this.loop = loop;
    this.target = target;
    this.nanoTime = nanoTime;
    this.lastData = nanoTime.getAsLong();
    this.startedNanos = lastData;
    // the quiet time of a lane the pacer held counts from its grant, not from when its context gets to resume it
    this.pace = pacer.lane(download, source instanceof Source.Upstream, () -> {
      lastReleased = nanoTime.getAsLong();
      loop.execute(this::applyPause);
    });
  }

  void start() {
    body.handler(this::onData);
    body.exceptionHandler(this::onError);
    body.endHandler(v -> onEnd());
    if (pace.start()) {
      body.resume();
    }
  }

  /**
   * On the body's context: pauses or resumes the body as its state says now (queue above the high water mark, or the
   * pacer holding it). Runs after every change that may let it read on, so the last one run sees the last state.
   */
  private void applyPause() {
    boolean hold;
    synchronized (this) {
      hold = paused || reported;
    }
    if (hold || pace.waiting()) {
      body.pause();
    } else {
      lastReleased = nanoTime.getAsLong();
      body.resume();
    }
  }

  /** Whether the pacer holds the lane now: it is quiet by the node's doing (cap or memory), not its source's. */
  boolean held() {
    return pace.waiting();
  }

  /** Whether the lane ever waited for the upstream cap: its rate is the cap's share, not its source's speed. */
  boolean capped() {
    return pace.capped();
  }

  /** Bytes the body delivered so far (written or not). */
  long received() {
    return received;
  }

  /** When data last came, or the pacer last let the lane read on, on the ticker. */
  long lastData() {
    return Math.max(lastData, lastReleased);
  }

  /**
   * Cuts the lane's body for {@code cause} (it stalled, or its download hands its piece to another lane): the lane reports
   * {@code cause}, whatever the cut body says. Once: false when it was cut already.
   */
  boolean cut(Throwable cause) {
    if (cutBy != null) {
      return false;
    }
    cutBy = cause;
    body.cancel(cause);
    return true;
  }

  boolean complete() {
    return position == end + 1;
  }

  long missingBytes() {
    return end + 1 - position;
  }

  /** Whether this lane wrote any byte (its piece progressed). */
  boolean wroteAny() {
    return written > 0;
  }

  private void onData(Buffer b) {
    lastData = nanoTime.getAsLong();
    received += b.length(); // one context delivers a body's data: no lost update
    target.arrived(source, b.length());
    boolean go = pace.read(b.length());
    boolean startWriter = false;
    boolean pause = false;
    boolean drop;
    synchronized (this) {
      drop = error != null || reported;
      if (!drop) {
        queue.add(b);
        queued += b.length();
        if (queued > HIGH_WATER && !paused) {
          paused = pause = true;
        }
        if (!writing) {
          writing = startWriter = true;
        }
      }
    }
    if (drop) {
      pace.released(b.length());
      return;
    }
    if (pause || !go) {
      body.pause();
      if (!go && !pace.waiting()) {
        applyPause(); // granted between the read and the pause
      }
    }
    if (startWriter) {
      io.execute(this::drain);
    }
  }

  private void onError(Throwable t) {
    boolean report;
    synchronized (this) {
      if (error == null) {
        error = t;
      }
      report = !writing;
    }
    if (report) {
      report();
    }
  }

  private void onEnd() {
    boolean report;
    synchronized (this) {
      ended = true;
      report = !writing;
    }
    if (report) {
      report();
    }
  }

  /** On the io executor: writes queued chunks in order until the queue is empty. */
  private void drain() {
    while (true) {
      Buffer b;
      boolean resume = false;
      long dropped = 0;
      synchronized (this) {
        b = error == null ? queue.poll() : null;
        if (b == null) {
          writing = false;
          dropped = clearQueue();
          if (!ended && error == null) {
            return;
          }
        } else {
          queued -= b.length();
          if (paused && queued < LOW_WATER) {
            paused = false;
            resume = true;
          }
        }
      }
      if (b == null) {
        pace.released(dropped);
        break;
      }
      if (resume) {
        loop.execute(this::applyPause);
      }
      long pos = position;
      int len = (int) Math.min(b.length(), end + 1 - pos);
      if (len <= 0) {
        pace.released(b.length());
        continue;
      }
      try {
        // the chunk's own memory, no copy (Vert.x hands the handler a buffer it no longer uses)
        target.write(((BufferInternal) b).getByteBuf().nioBuffer(0, len), pos);
      } catch (IOException e) {
        pace.released(b.length());
        target.writeFailed(e);
        long left;
        synchronized (this) {
          error = e;
          writing = false;
          left = clearQueue();
        }
        pace.released(left);
        break;
      }
      pace.released(b.length());
      position = pos + len;
      written += len;
      target.written(pos, len, source);
    }
    report();
  }

  /** Empties the queue (the lane will write no more of it); returns the bytes it held, to give back to the pacer. */
  private long clearQueue() {
    assert Thread.holdsLock(this);
    long bytes = 0;
    for (Buffer q : queue) {
      bytes += q.length();
    }
    queue.clear();
    return bytes;
  }

  private void report() {
    Throwable err;
    synchronized (this) {
      if (reported) {
        return;
      }
      reported = true;
      err = error;
    }
    pace.end();
    target.ended(this, cutBy != null ? cutBy : err);
  }
}
