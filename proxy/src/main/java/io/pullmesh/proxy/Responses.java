package io.pullmesh.proxy;

import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.vertx.core.http.HttpServerResponse;
import java.util.logging.Level;
import java.util.logging.Logger;

/** Registry-style error responses. */
final class Responses {
  private static final Logger LOG = Logger.getLogger(Responses.class.getName());

  private Responses() {}

  /**
   * Sends {@code error} as {@code {"errors":[...]}} with its status; if the headers are already out, resets the
   * connection instead (the only honest way to end a body that will not be complete).
   */
  static void error(HttpServerResponse response, Throwable error, boolean head) {
    RegistryException e = RegistryException.of(error);
    if (e.code() == ErrorCode.INTERNAL_ERROR) {
      LOG.log(Level.WARNING, "internal error: " + e.getMessage(), e.getCause() != null ? e.getCause() : e);
    }
    if (response.ended() || response.closed()) {
      return;
    }
    if (response.headWritten()) {
      response.reset();
      return;
    }
    String body = e.toJson();
    response.setStatusCode(e.status())
        .putHeader("Content-Type", "application/json; charset=utf-8")
        .putHeader("Content-Length", Integer.toString(body.getBytes(java.nio.charset.StandardCharsets.UTF_8).length));
    if (e.status() == 405 && !response.headers().contains("Allow")) {
      response.putHeader("Allow", "GET, HEAD");
    }
    if (head) {
      response.end();
    } else {
      response.end(body);
    }
  }
}
