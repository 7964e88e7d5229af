package io.pullmesh.proxy.cli;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.net.ConnectException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * A client of the admin API ({@code /admin/v1/} on the proxy). Every failure becomes a {@link CliException} with
 * a message for people: the server's own message for a refused call, the URL and a hint for a connection failure.
 */
final class AdminClient {
  private static final String PREFIX = "/admin/v1/";

  /** A 2xx answer: the body as sent, and parsed (a {@link JsonObject} or a {@link JsonArray}). */
  record Reply(String text, Object json) {
    JsonObject object() {
      if (json instanceof JsonObject o) {
        return o;
      }
      throw new CliException(CliException.FAILED, "expected a JSON object from the server, got: " + abbreviate(text));
    }

    JsonArray array() {
      if (json instanceof JsonArray a) {
        return a;
      }
      throw new CliException(CliException.FAILED, "expected a JSON array from the server, got: " + abbreviate(text));
    }
  }

  private final URI base;
  private final String token;
  private final Duration timeout;
  private final HttpClient http;

  AdminClient(URI base, String token, Duration connectTimeout, Duration timeout) {
    this.base = base;
    this.token = token;
    this.timeout = timeout;
    this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(connectTimeout)
        .followRedirects(HttpClient.Redirect.NEVER).build();
  }

  URI base() {
    return base;
  }

  Reply get(String path) {
    return send(request(path).GET());
  }

  Reply post(String path, JsonObject body) {
    String text = body == null ? "" : body.encode();
    return send(request(path).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(text, StandardCharsets.UTF_8)));
  }

  private HttpRequest.Builder request(String path) {
    String root = base.toString().replaceAll("/+$", "");
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(root + PREFIX + path)).timeout(timeout).header("Accept", "application/json");
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return b;
  }

  private Reply send(HttpRequest.Builder builder) {
    HttpRequest req = builder.build();
    HttpResponse<String> resp;
    try {
      resp = http.send(req, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (HttpConnectTimeoutException e) {
      throw cannotConnect(e);
    } catch (HttpTimeoutException e) {
      throw new CliException(CliException.FAILED, "no answer from " + base + " within " + timeout.toSeconds() + " s ("
          + req.method() + " " + req.uri().getPath() + ")");
    } catch (IOException e) {
      if (isConnectFailure(e)) {
        throw cannotConnect(e);
      }
      throw new CliException(CliException.FAILED, req.method() + " " + req.uri() + " failed: " + reason(e));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CliException(CliException.FAILED, "interrupted");
    }
    String body = resp.body() == null ? "" : resp.body();
    int status = resp.statusCode();
    if (status / 100 != 2) {
      throw refused(status, body);
    }
    try {
      return new Reply(body, Json.decodeValue(body));
    } catch (DecodeException e) {
      throw new CliException(CliException.USAGE, base + " answered " + req.uri().getPath() + " with something that is not JSON ("
          + abbreviate(body) + "): is --url a pullmesh proxy?");
    }
  }

  private CliException cannotConnect(IOException e) {
    return new CliException(CliException.USAGE, "cannot connect to " + base + " (" + reason(e)
        + "): is the proxy running there? Point at it with --url URL or PULLMESH_ADMIN_URL");
  }

  private static boolean isConnectFailure(IOException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof ConnectException || t instanceof java.nio.channels.UnresolvedAddressException
          || t instanceof java.net.UnknownHostException || t instanceof HttpConnectTimeoutException) {
        return true;
      }
    }
    return false;
  }

  /** The JDK client's connect failures often carry no message: say what they mean. */
  private static String reason(IOException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.nio.channels.UnresolvedAddressException || t instanceof java.net.UnknownHostException) {
        return "unknown host";
      }
      if (t instanceof HttpConnectTimeoutException) {
        return "timed out connecting";
      }
      if (t.getMessage() != null && !t.getMessage().isBlank()) {
        return t.getMessage().strip();
      }
    }
    return e instanceof ConnectException || e.getCause() instanceof ConnectException ? "connection refused" : e.getClass().getSimpleName();
  }

  /**
   * A non-2xx answer: {@code 401 UNAUTHORIZED: <the server's message>}. Exit code 2 when the request itself was refused
   * (bad input 400, no or wrong token 401, not allowed 403, wrong method 405), 1 when it could not be done (404,
   * 409, 5xx).
   */
  static CliException refused(int status, String body) {
    String detail = null;
    try {
      JsonObject o = new JsonObject(body);
      JsonObject first = o.getJsonArray("errors").getJsonObject(0);
      detail = first.getString("code") + ": " + first.getString("message");
    } catch (RuntimeException notRegistryJson) {
      // not {"errors":[...]}: show the body itself
    }
    if (detail == null) {
      detail = body.isBlank() ? "(no message)" : abbreviate(body.strip());
    }
    boolean requestRefused = status == 400 || status == 401 || status == 403 || status == 405;
    return new CliException(requestRefused ? CliException.USAGE : CliException.FAILED, status + " " + detail);
  }

  private static String abbreviate(String s) {
    String one = s.replaceAll("\\s+", " ").strip();
    return one.length() > 200 ? one.substring(0, 200) + "..." : one;
  }
}
