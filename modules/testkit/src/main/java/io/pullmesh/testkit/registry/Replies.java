package io.pullmesh.testkit.registry;

import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.nio.charset.StandardCharsets;

/**
 * The error bodies the fake servers send: the registry's JSON errors, Go's plain 404, S3's XML errors, plain text
 * (the version gate's 412) and Hugging Face's {@code {"error":...}}.
 */
final class Replies {
  private Replies() {}

  /** {@code {"errors":[{"code":...,"message":...}]}} with the code's status (no body for HEAD). */
  static void registryError(HttpServerRequest request, ErrorCode code, String message) {
    registryError(request, code.status(), code, message);
  }

  static void registryError(HttpServerRequest request, int status, ErrorCode code, String message) {
    String body = RegistryException.errorJson(code, message);
    HttpServerResponse response = request.response().setStatusCode(status)
        .putHeader("Content-Type", "application/json; charset=utf-8");
    endWithBody(request, response, body);
  }

  /** Go's {@code http.NotFound}: {@code 404 page not found}, text/plain. */
  static void goNotFound(HttpServerRequest request) {
    HttpServerResponse response = request.response().setStatusCode(404)
        .putHeader("Content-Type", "text/plain; charset=utf-8")
        .putHeader("X-Content-Type-Options", "nosniff");
    endWithBody(request, response, "404 page not found\n");
  }

  /** An S3-style error: {@code <Error><Code>...</Code><Message>...</Message></Error>}, no body for HEAD. */
  static void s3Error(HttpServerRequest request, int status, String code, String message) {
    String body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>" + message
        + "</Message></Error>";
    HttpServerResponse response = request.response().setStatusCode(status)
        .putHeader("Content-Type", "application/xml");
    endWithBody(request, response, body);
  }

  /** A plain-text body, {@code text/plain; charset=utf-8} (no body for HEAD). */
  static void plainText(HttpServerRequest request, int status, String body) {
    HttpServerResponse response = request.response().setStatusCode(status)
        .putHeader("Content-Type", "text/plain; charset=utf-8");
    endWithBody(request, response, body);
  }

  /** Hugging Face's error shape, {@code {"error":"..."}} (ollama/ollama #13297), no body for HEAD. */
  static void hubError(HttpServerRequest request, int status, String message) {
    HttpServerResponse response = request.response().setStatusCode(status)
        .putHeader("Content-Type", "application/json; charset=utf-8");
    endWithBody(request, response, new io.vertx.core.json.JsonObject().put("error", message).encode());
  }

  private static void endWithBody(HttpServerRequest request, HttpServerResponse response, String body) {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    response.putHeader("Content-Length", Integer.toString(bytes.length));
    if (request.method() == HttpMethod.HEAD) {
      response.end();
    } else {
      response.end(io.vertx.core.buffer.Buffer.buffer(bytes));
    }
  }

  /**
   * The blob bytes {@code [first, last]} a response to {@code rangeHeader} would carry, before faults;
   * {@code first > last} when it carries none (416).
   */
  static long[] servedSpan(String rangeHeader, long size) {
    io.pullmesh.core.RangeHeader.Result r = io.pullmesh.core.RangeHeader.evaluate(rangeHeader, size);
    if (r instanceof io.pullmesh.core.RangeHeader.Partial p && p.isSingle()) {
      return new long[] {p.ranges().get(0).first(), p.ranges().get(0).last()};
    }
    if (r instanceof io.pullmesh.core.RangeHeader.Unsatisfiable) {
      return new long[] {0, -1};
    }
    return new long[] {0, size - 1};
  }
}
