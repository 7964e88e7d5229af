package io.pullmesh.proxy;

import io.pullmesh.fetch.Chunk;
import io.pullmesh.fetch.Futures;
import io.pullmesh.metrics.MetricsRecorder;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import java.util.List;

/**
 * Copies ranges of a {@link ByteSource} into a response whose headers (status, Content-Length) are already set,
 * with backpressure: it reads the next chunk only when the response can take it.
 *
 * <p>The final byte of the body is held back until {@link ByteSource#verified()} succeeds. If verification
 * fails the connection is reset instead, so a client never sees a clean end of a body that was not verified:
 * with Content-Length framing, a reset before the last byte is an error to every HTTP client. Everything
 * before that byte is sent as soon as it lands, so a client reading the tail of a blob being fetched has all
 * but one byte of it long before the blob is complete; only the end of its response waits for the whole-blob
 * SHA-256 (the registry gives no per-piece digests to check earlier).
 */
final class BodyWriter {
  /** Bytes per read. */
  static final int CHUNK = 128 << 10;
  /**
   * The next chunk is read only while less than this is written to the response and not yet taken by its socket, so a
   * client holds at most this plus one chunk of direct memory. The response's own {@code writeQueueFull} is not enough:
   * Vert.x 5 reports it only once 16 messages wait in the connection's queue, 2 MiB of chunks per client that stops
   * reading (measured: 137 MiB of pooled direct memory pinned by 64 clients behind their downloads, the peak of a node's
   * RSS).
   */
  static final int MAX_IN_FLIGHT = 2 * CHUNK;

  /** A literal to send, then {@code length} bytes of the source from {@code first}. */
  record Part(Buffer prefix, long first, long length) {}

  private final Exchange exchange;
  private final HttpServerResponse response;
  private final ByteSource source;
  private final List<Part> parts;
  private final Buffer trailer;
  private final MetricsRecorder metrics;
  private final MetricsRecorder.Source tag;
  private final Promise<Void> done = Promise.promise();
  private int part;
  private long offset;
  private boolean prefixSent;
  private boolean finished;
  private boolean ending;
  private boolean reading;
  /** Bytes written and not yet taken by the socket; on the response's event loop. */
  private long inFlight;
  /** Whether {@link #step} waits for writes to complete ({@link #MAX_IN_FLIGHT}). */
  private boolean waitingForWrites;
  private io.vertx.core.Context context;

  BodyWriter(Exchange exchange, ByteSource source, List<Part> parts, Buffer trailer, MetricsRecorder metrics,
      MetricsRecorder.Source tag) {
    this.exchange = exchange;
    this.response = exchange.response;
    this.source = source;
    this.parts = parts;
    this.trailer = trailer;
    this.metrics = metrics;
    this.tag = tag;
  }

  /** Starts copying (on the response's event loop); completes when the response ended or was reset. */
  Future<Void> start() {
    context = io.vertx.core.Vertx.currentContext();
    exchange.onDone(() -> finish(false));
    response.exceptionHandler(t -> finish(false));
    step();
    return done.future();
  }

  private void step() {
    if (finished || reading || ending) {
      return; // a read is already outstanding, or the end is under way: never two copies at once
    }
    if (response.closed()) {
      finish(false);
      return;
    }
    if (inFlight >= MAX_IN_FLIGHT) {
      waitingForWrites = true; // the next write to complete steps again
      return;
    }
    if (part >= parts.size()) {
      endHeld(Buffer.buffer());
      return;
    }
    Part p = parts.get(part);
    if (!prefixSent) {
      prefixSent = true;
      if (p.prefix() != null && p.prefix().length() > 0) {
        response.write(p.prefix());
      }
    }
    long remaining = p.length() - offset;
    if (remaining == 0) {
      part++;
      offset = 0;
      prefixSent = false;
      step();
      return;
    }
    reading = true;
    source.read(p.first() + offset, (int) Math.min(CHUNK, remaining)).onComplete(ar -> {
      reading = false;
      if (finished) {
        if (ar.succeeded()) {
          ar.result().release();
        }
        return;
      }
      if (ar.failed()) {
        response.reset();
        finish(false);
        return;
      }
      Chunk c = ar.result();
      int n = c.length();
      offset += n;
      boolean last = part == parts.size() - 1 && offset == p.length();
      if (last) {
        // everything but the final byte goes out now; the final byte waits for the digest check
        Buffer tail = Buffer.buffer(new byte[] {c.data().getByte(n - 1)});
        if (n > 1) {
          send(c, c.data().slice(0, n - 1));
        } else {
          c.release();
        }
        endHeld(tail);
        return;
      }
      send(c, c.data());
      if (response.writeQueueFull()) {
        response.drainHandler(v -> {
          // one-shot: left in place it would fire again after later writes and run step() twice
          response.drainHandler(null);
          step();
        });
      } else {
        step();
      }
    });
  }

  /** Writes {@code data} (part of {@code c}) and gives {@code c}'s memory back once the socket has it. */
  private void send(Chunk c, Buffer data) {
    int n = data.length();
    metrics.servedBytes(tag, n);
    inFlight += n;
    response.write(data).onComplete(done -> {
      c.release();
      inFlight -= n;
      if (waitingForWrites && inFlight < MAX_IN_FLIGHT) {
        waitingForWrites = false;
        step();
      }
    });
  }

  /** Sends the final bytes (and the trailer) only once the blob is verified; resets the connection otherwise. */
  private void endHeld(Buffer last) {
    if (ending) {
      return;
    }
    ending = true;
    Futures.onCallerContext(context.owner(), source.verified()).onComplete(ar -> {
      if (finished) {
        return;
      }
      if (ar.failed() || response.closed()) {
        response.reset();
        finish(false);
        return;
      }
      Buffer out = last.length() == 0 && trailer == null ? null : Buffer.buffer().appendBuffer(last);
      if (trailer != null) {
        out.appendBuffer(trailer);
      }
      metrics.servedBytes(tag, last.length());
      (out == null ? response.end() : response.end(out)).onComplete(e -> finish(e.succeeded()));
    });
  }

  private void finish(boolean ok) {
    if (finished) {
      return;
    }
    finished = true;
    source.close();
    done.tryComplete();
  }
}
