package io.pullmesh.testkit.client;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * One try of one part: download.go's {@code downloadChunk}. GETs the direct URL with
 * {@code Range: bytes=<startsAt>-<stopsAt-1>}, no Authorization, Go's default User-Agent {@code Go-http-client/1.1}
 * ({@code http.DefaultClient.Do}, server/download.go:340-345), following redirects as that client does, and copies up to
 * the part's remaining size from whatever body comes back into the file at the part's current offset. The
 * status is never looked at (a 200 with the whole blob is copied as if it were the range).
 *
 * <p>Outcomes, as in Go: all bytes copied: {@link Outcome#DONE}. The body ended cleanly but short ({@code
 * io.EOF}): the bytes are not counted and the try fails with "EOF". The body broke off ({@code
 * io.ErrUnexpectedEOF}): the bytes are kept and the try fails with "unexpected EOF". A stall or a cancel keeps the
 * bytes too.
 */
final class PartAttempt {
  enum Outcome {
    DONE,
    STALLED,
    CANCELLED
  }

  private static final int BUFFER = 64 * 1024;

  private final HttpClient http;
  private final URI directUrl;
  private final Part part;
  private final FileChannel file;
  private final BlobDownload blob;
  private volatile boolean stalled;
  private volatile boolean cancelled;
  private volatile CompletableFuture<HttpResponse<InputStream>> waiter;
  private volatile InputStream stream;

  PartAttempt(HttpClient http, URI directUrl, Part part, FileChannel file, BlobDownload blob) {
    this.http = http;
    this.directUrl = directUrl;
    this.part = part;
    this.file = file;
    this.blob = blob;
  }

  Outcome run() throws IOException {
    long startsAt = part.startsAt();
    long remaining = part.size - part.completed.get();
    URI url = directUrl;
    HttpResponse<InputStream> response;
    for (int redirects = 0; ; redirects++) {
      HttpRequest request = HttpRequest.newBuilder(url)
          .GET()
          .header("Range", "bytes=" + startsAt + "-" + (part.stopsAt() - 1))
          .header("User-Agent", "Go-http-client/1.1")
          .build();
      CompletableFuture<HttpResponse<InputStream>> sent = http.sendAsync(request, HttpResponse.BodyHandlers.ofInputStream());
      waiter = sent.thenApply(r -> r);
      if (stalled || cancelled) {
        waiter.cancel(false);
      }
      try {
        response = waiter.get();
      } catch (CancellationException e) {
        sent.thenAccept(r -> closeQuietly(r.body()));
        return stalled ? Outcome.STALLED : Outcome.CANCELLED;
      } catch (ExecutionException e) {
        Throwable c = e.getCause();
        throw c instanceof IOException io ? io : new IOException(c.getMessage(), c);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      }
      // http.DefaultClient follows redirects (Go's default policy: up to 10, the Range header kept), e.g. Hugging
      // Face's huggingface.co 302 to its CDN for every range
      String location = response.headers().firstValue("location").orElse(null);
      if (!Redirects.isRedirect(response.statusCode()) || location == null) {
        break;
      }
      closeQuietly(response.body());
      if (redirects + 1 >= 10) {
        throw new IOException("stopped after 10 redirects");
      }
      url = url.resolve(location);
    }
    InputStream in = response.body();
    stream = in;
    if (stalled || cancelled) {
      closeQuietly(in);
    }
    long copied = 0;
    IOException readError = null;
    byte[] buf = new byte[BUFFER];
    try {
      while (copied < remaining) {
        int r;
        try {
          r = in.read(buf, 0, (int) Math.min(buf.length, remaining - copied));
        } catch (IOException e) {
          readError = e;
          break;
        }
        if (r < 0) {
          break;
        }
        blob.received(r);
        part.touch(blob.now());
        ByteBuffer bb = ByteBuffer.wrap(buf, 0, r);
        long pos = startsAt + copied;
        while (bb.hasRemaining()) {
          pos += file.write(bb, pos);
        }
        copied += r;
      }
    } finally {
      closeQuietly(in);
    }
    if (stalled) {
      keep(copied);
      return Outcome.STALLED;
    }
    if (cancelled) {
      keep(copied);
      return Outcome.CANCELLED;
    }
    if (copied == remaining) {
      keep(copied);
      return Outcome.DONE;
    }
    if (readError != null) {
      keep(copied);
      throw new IOException("unexpected EOF", readError);
    }
    throw new IOException("EOF");
  }

  /** Called by the stall watchdog: stop this try; it ends as {@link Outcome#STALLED}. */
  void stall() {
    stalled = true;
    abort();
  }

  /** Called when another part failed: stop this try; it ends as {@link Outcome#CANCELLED}. */
  void cancel() {
    cancelled = true;
    abort();
  }

  private void abort() {
    CompletableFuture<HttpResponse<InputStream>> w = waiter;
    if (w != null) {
      w.cancel(false);
    }
    InputStream s = stream;
    if (s != null) {
      closeQuietly(s);
    }
  }

  private void keep(long copied) throws IOException {
    part.completed.addAndGet(copied);
    blob.savePart(part);
  }

  private static void closeQuietly(InputStream in) {
    try {
      in.close();
    } catch (IOException | RuntimeException e) {
      // nothing to do
    }
  }
}
