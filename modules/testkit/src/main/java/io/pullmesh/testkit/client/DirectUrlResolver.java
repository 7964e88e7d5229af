package io.pullmesh.testkit.client;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * download.go's direct-URL resolution, done once per blob: GET the blob URL following redirects only to the
 * same host name (at most 10); the first redirect to another host name ends the chain. Failed requests are
 * retried with an n² × 10 ms backoff (capped at 10 s, jittered ×0.5–1.5) until the resolve timeout, then
 * "context deadline exceeded". The final status decides, per {@link RedirectMode}:
 * <ul>
 *   <li>307, or 302 when lenient: the {@code Location} header;
 *   <li>200: strict takes {@code Location} and fails with "http: no Location header in response" without
 *       one; lenient takes the blob URL itself;
 *   <li>anything else: "unexpected status code N" (not retried).
 * </ul>
 * The response body is closed unread.
 */
final class DirectUrlResolver {
  static final String NO_LOCATION = "http: no Location header in response";

  private final RegistryCalls calls;
  private final ClientOptions options;

  DirectUrlResolver(RegistryCalls calls, ClientOptions options) {
    this.calls = calls;
    this.options = options;
  }

  URI resolve(URI blobUrl) throws IOException {
    long deadline = options.ticker.nanos() + options.resolveTimeout.toNanos();
    int n = 0;
    while (true) {
      HttpResponse<InputStream> resp;
      try {
        resp = calls.requestWithRetry("GET", blobUrl, Map.of(), RegistryCalls.Follow.SAME_HOST);
      } catch (IOException e) {
        n++;
        long backoff = Math.min(Duration.ofMillis(10L * n * n).toNanos(), Duration.ofSeconds(10).toNanos());
        backoff = (long) (backoff * (ThreadLocalRandom.current().nextDouble() + 0.5));
        long left = deadline - options.ticker.nanos();
        if (left <= backoff) {
          sleepNanos(Math.max(0, left));
          throw new IOException("context deadline exceeded (resolving the direct URL of " + blobUrl
              + "; last error: " + e.getMessage() + ")", e);
        }
        sleepNanos(backoff);
        continue;
      }
      try {
        return decide(blobUrl, resp);
      } finally {
        resp.body().close();
      }
    }
  }

  private URI decide(URI blobUrl, HttpResponse<InputStream> resp) throws IOException {
    int status = resp.statusCode();
    boolean lenient = options.redirectMode == RedirectMode.LENIENT;
    if (status == 307 || (lenient && status == 302)) {
      return location(resp);
    }
    if (status == 200) {
      return lenient ? blobUrl : location(resp);
    }
    throw new IOException("unexpected status code " + status);
  }

  /** Go's {@code Response.Location()}: the header resolved against the request URL. */
  private static URI location(HttpResponse<?> resp) throws IOException {
    String loc = resp.headers().firstValue("location").orElse(null);
    if (loc == null) {
      throw new IOException(NO_LOCATION);
    }
    return resp.uri().resolve(loc);
  }

  private static void sleepNanos(long nanos) throws IOException {
    try {
      Thread.sleep(nanos / 1_000_000, (int) (nanos % 1_000_000));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }
}
