package io.pullmesh.proxy;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * Closes a client connection that takes too long to send a request's headers (a slow-headers attack holds a
 * connection open by sending one header line every few seconds, which an idle timeout never sees; issue 18 item 4).
 * A new connection has {@code first} to finish its first request's headers, like nginx's
 * {@code client_header_timeout} (60 s); a kept-alive one has {@code next} from the end of a response to finish the
 * next request's headers, like nginx's {@code keepalive_timeout} (75 s). Never runs while a request is being answered,
 * so it never cuts a body. Not for idle connections mid-response: the server's idle timeout is.
 */
final class HeaderDeadlines {
  private static final Logger LOG = Logger.getLogger(HeaderDeadlines.class.getName());

  private final Vertx vertx;
  private final long firstMs;
  private final long nextMs;
  private final Map<HttpConnection, Long> timers = new ConcurrentHashMap<>();

  HeaderDeadlines(Vertx vertx, Duration first, Duration next) {
    this.vertx = vertx;
    this.firstMs = Math.max(1, first.toMillis());
    this.nextMs = Math.max(1, next.toMillis());
  }

  /** A client connected: its first request's headers are due within {@code first}. */
  void connected(HttpConnection c) {
    arm(c, firstMs);
    c.closeHandler(v -> disarm(c));
  }

  /**
   * A request's headers arrived: no deadline while it is answered; the end of its response, whoever answers it, starts
   * the next one's. Not for CONNECT: a tunnel carries no more requests, and its bytes are not headers.
   */
  void headersRead(HttpServerRequest req) {
    disarm(req.connection());
    if (req.method() != HttpMethod.CONNECT) {
      req.response().bodyEndHandler(v -> answered(req));
    }
  }

  /** The response to {@code req} ended: the next request's headers are due within {@code next}, if the connection stays. */
  private void answered(HttpServerRequest req) {
    if (!req.response().closed() && !"close".equalsIgnoreCase(req.getHeader("Connection"))) {
      arm(req.connection(), nextMs);
    }
  }

  private void arm(HttpConnection c, long ms) {
    long id = vertx.setTimer(ms, t -> {
      if (timers.remove(c, t)) {
        LOG.fine(() -> "closing " + c.remoteAddress() + ": no complete request headers within " + ms + " ms");
        c.close();
      }
    });
    Long before = timers.put(c, id);
    if (before != null) {
      vertx.cancelTimer(before);
    }
  }

  private void disarm(HttpConnection c) {
    Long id = timers.remove(c);
    if (id != null) {
      vertx.cancelTimer(id);
    }
  }

  /** Connections waiting for headers now (for tests). */
  int armed() {
    return timers.size();
  }
}
