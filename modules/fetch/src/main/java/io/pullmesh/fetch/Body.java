package io.pullmesh.fetch;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientResponse;

/**
 * The body of a ranged or whole-blob response, as a lane streams it into the partial file: the subset of an HTTP
 * response a download needs, so that a test can hand it bytes from memory. Delivered paused; the lane sets its
 * handlers, then resumes it.
 */
interface Body {
  void handler(Handler<Buffer> data);

  void exceptionHandler(Handler<Throwable> error);

  void endHandler(Handler<Void> end);

  void pause();

  void resume();

  /** Stops the body: resets its request, which then fails with {@code cause}. Never called under the download's lock. */
  void cancel(Throwable cause);

  /** The body of a Vert.x client response. */
  static Body of(HttpClientResponse r) {
    return new Body() {
      @Override
      public void handler(Handler<Buffer> data) {
        r.handler(data);
      }

      @Override
      public void exceptionHandler(Handler<Throwable> error) {
        r.exceptionHandler(error);
      }

      @Override
      public void endHandler(Handler<Void> end) {
        r.endHandler(end);
      }

      @Override
      public void pause() {
        r.pause();
      }

      @Override
      public void resume() {
        r.resume();
      }

      @Override
      public void cancel(Throwable cause) {
        r.request().reset(0, cause);
      }
    };
  }
}
