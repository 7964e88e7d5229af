package io.pullmesh.testkit.registry;

import io.pullmesh.core.ByteRange;
import io.pullmesh.core.RangeHeader;
import io.pullmesh.testkit.fault.AppliedFaults;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.throttle.TokenBucket;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.file.AsyncFile;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;

/**
 * Answers a blob GET or HEAD with exact {@code Range} semantics, as S3/R2 do: no range gives 200 with the whole
 * blob, one satisfiable range 206 with {@code Content-Range}, an unsatisfiable one 416; several ranges and
 * malformed headers are ignored (200, whole blob), as S3 does. Applies faults and the connection's bandwidth
 * limit, and counts the body bytes that reach the socket.
 *
 * <p>The body is read from the file in chunks with {@link AsyncFile} (file I/O off the event loop, never a
 * whole blob in memory) and written with back-pressure ({@code writeQueueFull}/{@code drainHandler}).
 */
final class BlobSender {
  private static final int UNTHROTTLED_CHUNK = 256 * 1024;

  private final Vertx vertx;
  private final TrafficStats stats;
  private final TrafficStats.Origin origin;
  private final ConnectionThrottle throttle;

  BlobSender(Vertx vertx, TrafficStats stats, TrafficStats.Origin origin, ConnectionThrottle throttle) {
    this.vertx = vertx;
    this.stats = stats;
    this.origin = origin;
    this.throttle = throttle;
  }

  void send(HttpServerRequest request, FakeBlob blob, AppliedFaults faults) {
    if (faults.delayMillis() > 0) {
      vertx.setTimer(faults.delayMillis(), t -> {
        if (!request.response().closed()) {
          sendNow(request, blob, faults);
        }
      });
    } else {
      sendNow(request, blob, faults);
    }
  }

  private void sendNow(HttpServerRequest request, FakeBlob blob, AppliedFaults faults) {
    HttpServerResponse response = request.response();
    if (faults.status() != 0) {
      response.setStatusCode(faults.status()).putHeader("Content-Length", "0").end();
      return;
    }
    long size = blob.size();
    String rangeHeader = faults.ignoreRange() ? null : request.getHeader("Range");
    RangeHeader.Result result = RangeHeader.evaluate(rangeHeader, size);
    ByteRange range;
    if (result instanceof RangeHeader.Partial p && p.isSingle()) {
      range = p.ranges().get(0);
      response.setStatusCode(206).putHeader("Content-Range", range.contentRange(size));
    } else if (result instanceof RangeHeader.Unsatisfiable) {
      response.setStatusCode(416)
          .putHeader("Content-Range", "bytes */" + size)
          .putHeader("Content-Length", "0")
          .end();
      return;
    } else {
      range = size == 0 ? null : new ByteRange(0, size - 1);
      response.setStatusCode(200);
    }
    long length = range == null ? 0 : range.length();
    response.putHeader("Content-Type", "application/octet-stream")
        .putHeader("Accept-Ranges", "bytes")
        .putHeader("ETag", "\"" + blob.digest().hex().substring(0, 32) + "\"")
        .putHeader("Content-Length", Long.toString(length));
    if (request.method() == HttpMethod.HEAD || length == 0) {
      response.end();
      return;
    }
    vertx.fileSystem().open(blob.file().toString(), new OpenOptions().setRead(true).setWrite(false).setCreate(false))
        .onSuccess(file -> new Pump(request, file, blob, range, faults).start())
        .onFailure(err -> response.setStatusCode(500).putHeader("Content-Length", "0").end());
  }

  /** Moves one response's body from file to socket, chunk by chunk; lives on the connection's event loop. */
  private final class Pump {
    private final HttpServerRequest request;
    private final HttpServerResponse response;
    private final AsyncFile file;
    private final FakeBlob blob;
    private final long start;
    private final long length;
    private final AppliedFaults faults;
    private long queued;
    private Future<Void> lastWrite = Future.succeededFuture();
    private boolean finished;

    Pump(HttpServerRequest request, AsyncFile file, FakeBlob blob, ByteRange range, AppliedFaults faults) {
      this.request = request;
      this.response = request.response();
      this.file = file;
      this.blob = blob;
      this.start = range.first();
      this.length = range.length();
      this.faults = faults;
    }

    void start() {
      response.exceptionHandler(e -> finish());
      response.closeHandler(v -> finish());
      if (response.closed()) {
        finish();
        return;
      }
      step();
    }

    private void step() {
      if (finished) {
        return;
      }
      if (response.closed()) {
        finish();
        return;
      }
      long limit = length - queued;
      if (limit <= 0) {
        response.end();
        finish();
        return;
      }
      if (faults.dropAfter() >= 0) {
        limit = Math.min(limit, faults.dropAfter() - queued);
        if (limit <= 0) {
          lastWrite.onComplete(v -> request.connection().close());
          finish();
          return;
        }
      }
      if (faults.stallAfter() >= 0) {
        limit = Math.min(limit, faults.stallAfter() - queued);
        if (limit <= 0) {
          // Stall: send nothing more and keep the connection open; the close handler cleans up.
          return;
        }
      }
      int n = (int) Math.min(limit, UNTHROTTLED_CHUNK);
      TokenBucket bucket = throttle.bucketFor(request.connection());
      if (!bucket.unlimited()) {
        // Half a bucket per write: tokens that accrue while a timer fires late are kept, not capped away.
        n = (int) Math.min(n, Math.max(1, bucket.capacity() / 2));
        if (!bucket.tryTake(n)) {
          long waitMs = Math.max(1, (bucket.nanosUntil(n) + 999_999) / 1_000_000);
          vertx.setTimer(waitMs, t -> step());
          return;
        }
      }
      long offset = start + queued;
      int chunk = n;
      file.read(Buffer.buffer(chunk), 0, offset, chunk).onComplete(ar -> {
        if (finished) {
          return;
        }
        if (ar.failed() || ar.result().length() != chunk) {
          request.connection().close();
          finish();
          return;
        }
        Buffer data = ar.result();
        if (faults.corrupting()) {
          byte[] bytes = data.getBytes();
          faults.corrupt(bytes, bytes.length, offset);
          data = Buffer.buffer(bytes);
        }
        queued += chunk;
        // Counted before the write so that a client never holds bytes the counter does not show yet;
        // taken back if the write fails (the connection closed before they reached the socket).
        stats.addBlobBytes(origin, blob.digest(), chunk);
        lastWrite = response.write(data);
        lastWrite.onFailure(err -> stats.addBlobBytes(origin, blob.digest(), -chunk));
        if (response.writeQueueFull()) {
          response.drainHandler(v -> step());
        } else {
          step();
        }
      });
    }

    private void finish() {
      if (!finished) {
        finished = true;
        file.close();
      }
    }
  }
}
