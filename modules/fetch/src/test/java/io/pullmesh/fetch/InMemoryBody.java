package io.pullmesh.fetch;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import java.util.function.BooleanSupplier;

/**
 * Stands for the body of an HTTP response in a download's unit tests: sends {@code bytes} in chunks when resumed,
 * honouring pause, then ends; or stops after {@code stopAfter} bytes and sends nothing more, like a stalled CDN
 * connection, until cut or let {@linkplain #drip trickle} on. {@link #cancel} fails it as a reset request does (Vert.x calls the exception handler).
 */
final class InMemoryBody implements Body {
  private static final int CHUNK = 16 << 10;
  private final byte[] bytes;
  private int stopAfter;
  private Handler<Buffer> data = b -> {};
  private Handler<Throwable> error = t -> {};
  private Handler<Void> end = v -> {};
  private int sent;
  private boolean paused = true;
  private boolean over;
  private boolean sending;
  /** Set by a test that wants to know whether a cut came under the download's lock. */
  volatile BooleanSupplier underLock = () -> false;
  volatile boolean cancelled;
  volatile boolean cancelledUnderLock;

  InMemoryBody(byte[] bytes) {
    this(bytes, Integer.MAX_VALUE);
  }

  InMemoryBody(byte[] bytes, int stopAfter) {
    this.bytes = bytes;
    this.stopAfter = stopAfter;
  }

  @Override
  public void handler(Handler<Buffer> h) {
    data = h;
  }

  @Override
  public void exceptionHandler(Handler<Throwable> h) {
    error = h;
  }

  @Override
  public void endHandler(Handler<Void> h) {
    end = h;
  }

  @Override
  public synchronized void pause() {
    paused = true;
  }

  @Override
  public void resume() {
    synchronized (this) {
      paused = false;
    }
    send();
  }

  /** Sends what may be sent now, unless paused (a body is delivered paused until its reader resumes it). */
  private void send() {
    synchronized (this) {
      if (sending || paused) {
        return;
      }
      sending = true;
    }
    try {
      while (true) {
        Buffer chunk;
        boolean ended = false;
        synchronized (this) {
          if (paused || over || sent >= Math.min(stopAfter, bytes.length)) {
            ended = !over && !paused && sent >= bytes.length;
            over |= ended;
            if (!ended) {
              return;
            }
            chunk = null;
          } else {
            int n = Math.min(CHUNK, Math.min(stopAfter, bytes.length) - sent);
            chunk = Buffer.buffer(java.util.Arrays.copyOfRange(bytes, sent, sent + n));
            sent += n;
          }
        }
        if (ended) {
          end.handle(null);
          return;
        }
        data.handle(chunk);
      }
    } finally {
      boolean again;
      synchronized (this) {
        sending = false;
        // a drip or resume that came while this loop was ending found it still sending: go on for it
        again = !paused && !over && sent < Math.min(stopAfter, bytes.length);
      }
      if (again) {
        send();
      }
    }
  }

  /** Lets {@code n} more bytes through, like a connection that trickles; sent on the caller's thread once resumed. */
  void drip(int n) {
    synchronized (this) {
      stopAfter = (int) Math.min(bytes.length, (long) stopAfter + n);
    }
    send();
  }

  @Override
  public void cancel(Throwable cause) {
    cancelledUnderLock |= underLock.getAsBoolean();
    cancelled = true;
    synchronized (this) {
      if (over) {
        return;
      }
      over = true;
    }
    error.handle(cause);
  }
}
