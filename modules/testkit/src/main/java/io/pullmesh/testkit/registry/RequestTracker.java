package io.pullmesh.testkit.registry;

import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.time.Clock;

/** Counts a request and logs it (with its User-Agent) in {@link TrafficStats} when its response headers go out. */
final class RequestTracker {
  private RequestTracker() {}

  static void track(HttpServerRequest request, TrafficStats stats, Clock clock, String server, RequestKind kind) {
    stats.count(kind);
    HttpServerResponse response = request.response();
    String method = request.method().name();
    String host = request.getHeader("Host");
    String uri = request.uri();
    String range = request.getHeader("Range");
    boolean auth = request.getHeader("Authorization") != null;
    String userAgent = request.getHeader("User-Agent");
    response.headersEndHandler(v -> stats.log(new RequestRecord(
        clock.instant(), server, kind, method, host, uri, range, auth, response.getStatusCode(), userAgent)));
  }
}
