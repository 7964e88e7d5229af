package io.pullmesh.fetch;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;

/**
 * Futures shared between requests (a download's {@code ready()} or {@code completion()}, a single-flight manifest
 * fetch) complete on whichever thread finished the work. Per-request code must continue on its own event loop,
 * so it receives them through {@link #onCallerContext}.
 */
public final class Futures {
  private Futures() {}

  /**
   * The same outcome as {@code f}, delivered on the context of the thread calling this method (a new event-loop
   * context when called from outside Vert.x).
   */
  public static <T> Future<T> onCallerContext(Vertx vertx, Future<T> f) {
    Context ctx = vertx.getOrCreateContext();
    Promise<T> p = Promise.promise();
    f.onComplete(ar -> {
      if (Vertx.currentContext() == ctx) {
        p.handle(ar);
      } else {
        ctx.runOnContext(v -> p.handle(ar));
      }
    });
    return p.future();
  }
}
