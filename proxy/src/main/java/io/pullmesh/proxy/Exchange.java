package io.pullmesh.proxy;

import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.ArrayList;
import java.util.List;

/**
 * One request and its response, with callbacks run exactly once when the exchange is over: the response ended,
 * or the client closed the connection first. A Vert.x response has a single end and a single close handler;
 * this owns both, so metrics, leases and body writers can each register what they need. Confined to the
 * request's event loop.
 */
final class Exchange {
  final HttpServerRequest request;
  final HttpServerResponse response;
  private final List<Runnable> onDone = new ArrayList<>(3);
  private boolean over;

  Exchange(HttpServerRequest request) {
    this.request = request;
    this.response = request.response();
    response.endHandler(v -> finish());
    response.closeHandler(v -> finish());
  }

  /** Runs {@code r} when the exchange is over (at once if it already is). */
  void onDone(Runnable r) {
    if (over) {
      r.run();
    } else {
      onDone.add(r);
    }
  }

  /**
   * Ends the exchange now, for a response whose end the handlers above do not see (a failed {@code sendFile}). Running
   * the callbacks twice is impossible: the first end wins.
   */
  void finish() {
    if (over) {
      return;
    }
    over = true;
    for (Runnable r : onDone) {
      r.run();
    }
    onDone.clear();
  }
}
