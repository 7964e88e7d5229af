package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.Waits;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.Predicate;

/** Calls the admin API of a proxy over HTTP (the JDK client), for tests. */
final class AdminHttp {
  /** A response: status, body, and the headers tests look at. */
  record Resp(int status, String body, HttpResponse<String> raw) {
    JsonObject object() {
      return new JsonObject(body);
    }

    JsonArray array() {
      return new JsonArray(body);
    }

    /** The registry error code of an error body. */
    String code() {
      return object().getJsonArray("errors").getJsonObject(0).getString("code");
    }

    String message() {
      return object().getJsonArray("errors").getJsonObject(0).getString("message");
    }

    String header(String name) {
      return raw.headers().firstValue(name).orElse(null);
    }

    @Override
    public String toString() {
      return status + " " + body;
    }
  }

  private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  private final String base;
  private final String token;

  AdminHttp(String proxyUrl, String token) {
    this.base = proxyUrl + AdminApi.PREFIX;
    this.token = token;
  }

  AdminHttp(String proxyUrl) {
    this(proxyUrl, null);
  }

  AdminHttp withToken(String t) {
    return new AdminHttp(base.substring(0, base.length() - AdminApi.PREFIX.length()), t);
  }

  Resp get(String path) {
    return send("GET", path, null);
  }

  Resp post(String path, String body) {
    return send("POST", path, body);
  }

  Resp post(String path, JsonObject body) {
    return send("POST", path, body.encode());
  }

  /** A POST that must succeed with {@code status}; its body as an object. */
  JsonObject ok(int status, String path, JsonObject body) {
    Resp r = post(path, body);
    assertEquals(status, r.status(), "POST " + path + " " + body.encode() + " -> " + r);
    return r.object();
  }

  JsonArray list(String path) {
    Resp r = get(path);
    assertEquals(200, r.status(), "GET " + path + " -> " + r);
    return r.array();
  }

  JsonObject object(String path) {
    Resp r = get(path);
    assertEquals(200, r.status(), "GET " + path + " -> " + r);
    return r.object();
  }

  Resp send(String method, String path, String body) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    if (method.equals("POST")) {
      b.header("Content-Type", "application/json"); // as the admin CLI sends it: changes need it (AdminGuard)
    }
    try {
      HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      return new Resp(r.statusCode(), r.body(), r);
    } catch (IOException e) {
      throw new UncheckedIOException(method + " " + path + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  /** Polls {@code GET path} until its object satisfies {@code done}; fails after {@code deadline}. */
  JsonObject await(String path, Predicate<JsonObject> done, Duration deadline) throws InterruptedException {
    return Waits.awaitValue(() -> object(path), done, deadline, last -> "GET " + path + " reached the expected state; last: " + last);
  }

  static void assertError(Resp r, int status, String code, String... fragments) {
    assertEquals(status, r.status(), r.toString());
    assertEquals(code, r.code(), r.toString());
    for (String f : fragments) {
      assertTrue(r.message().contains(f), "the message names '" + f + "': " + r);
    }
  }
}
