package io.pullmesh.testkit.client;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/**
 * Ollama's {@code makeRequest} and {@code makeRequestWithRetry} for one pull: registry calls with the Ollama
 * User-Agent and the pull's bearer token, redirects handled by hand with Go's rules, and one token round trip
 * on 401. Holds the token, so one instance per pull.
 */
final class RegistryCalls {
  /** How redirects are followed. */
  enum Follow {
    /** Go's default policy: follow up to 9, the 10th fails with "stopped after 10 redirects". */
    ALL,
    /**
     * download.go's policy for the direct URL: follow redirects to the original host name (at most 10), stop at
     * the first one to another host name and return that redirect response.
     */
    SAME_HOST
  }

  static final String MAX_REDIRECTS_DIRECT = "maximum redirects exceeded (10) for directURL";

  private final HttpClient http;
  private final ClientOptions options;
  private volatile String token;

  RegistryCalls(HttpClient http, ClientOptions options) {
    this.http = http;
    this.options = options;
  }

  /**
   * {@code makeRequestWithRetry}: 401 gets a token and one more try; 404 fails with "file does not exist"; other
   * statuses >= 400 fail with {@code "<status>: <body>"}; anything else is returned with its body unread.
   */
  HttpResponse<InputStream> requestWithRetry(String method, URI uri, Map<String, String> headers, Follow follow)
      throws IOException {
    for (int i = 0; i < 2; i++) {
      HttpResponse<InputStream> resp = request(method, uri, headers, follow);
      int status = resp.statusCode();
      if (status == 401) {
        resp.body().close();
        Challenge challenge = Challenge.parse(resp.headers().firstValue("www-authenticate").orElse(""));
        token = fetchToken(challenge, uri);
      } else if (status == 404) {
        resp.body().close();
        throw new RegistryCallException(404, "file does not exist");
      } else if (status >= 400) {
        String body = new String(body(resp), StandardCharsets.UTF_8);
        throw new RegistryCallException(status, status + ": " + body);
      } else {
        return resp;
      }
    }
    throw new RegistryCallException(401, "unauthorized: access denied");
  }

  /** {@code makeRequest} plus the redirect policy: one logical request, redirects followed by hand. */
  HttpResponse<InputStream> request(String method, URI uri, Map<String, String> headers, Follow follow)
      throws IOException {
    URI current = uri;
    int redirects = 0;
    while (true) {
      HttpRequest.Builder b = HttpRequest.newBuilder(current).method(method, HttpRequest.BodyPublishers.noBody());
      headers.forEach(b::header);
      b.header("User-Agent", options.userAgent);
      if (method.equals("GET") && !headers.containsKey("Range")) {
        // Go's transport asks for gzip on its own (and undoes it, see body()) unless the request has a Range.
        b.header("Accept-Encoding", "gzip");
      }
      String t = token;
      if (t != null && Redirects.keepsSensitiveHeaders(uri, current)) {
        b.header("Authorization", "Bearer " + t);
      }
      HttpResponse<InputStream> resp = send(b.build());
      String location = resp.headers().firstValue("location").orElse(null);
      if (!Redirects.isRedirect(resp.statusCode()) || location == null) {
        return resp;
      }
      URI next = current.resolve(location);
      redirects++;
      if (follow == Follow.SAME_HOST) {
        if (redirects > 10) {
          resp.body().close();
          throw new IOException(MAX_REDIRECTS_DIRECT);
        }
        if (!Redirects.hostname(next).equals(Redirects.hostname(uri))) {
          return resp;
        }
      } else if (redirects >= 10) {
        resp.body().close();
        throw new IOException("stopped after 10 redirects");
      }
      resp.body().close();
      current = next;
    }
  }

  private HttpResponse<InputStream> send(HttpRequest request) throws IOException {
    try {
      return http.send(request, HttpResponse.BodyHandlers.ofInputStream());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  /** {@code getAuthorizationToken} ({@link AuthorizationToken}): the realm must be on the host asked (Ollama #13738). */
  private String fetchToken(Challenge challenge, URI original) throws IOException {
    return AuthorizationToken.fetch(this::send, options.userAgent, options.tokenUsername, options.tokenPassword, challenge.realm(),
        challenge.service(), challenge.scope(), Redirects.host(original));
  }

  /** Reads and closes a body, gunzipping it when the server used gzip (as Go's transport does transparently). */
  static byte[] body(HttpResponse<InputStream> resp) throws IOException {
    boolean gzip = resp.headers().firstValue("content-encoding").map(v -> v.equalsIgnoreCase("gzip")).orElse(false);
    try (InputStream raw = resp.body(); InputStream in = gzip ? new GZIPInputStream(raw) : raw) {
      return in.readAllBytes();
    }
  }


  /** A parsed {@code WWW-Authenticate: Bearer realm=...,service=...,scope=...}, Ollama's way. */
  record Challenge(String realm, String service, String scope) {
    static Challenge parse(String header) {
      String s = header.startsWith("Bearer ") ? header.substring(7) : header;
      return new Challenge(value(s, "realm"), value(s, "service"), value(s, "scope"));
    }

    /** Ollama's {@code getValue}: the quoted value after {@code key=}, up to a quote followed by a comma or the end. */
    private static String value(String header, String key) {
      int start = header.indexOf(key + "=");
      if (start < 0) {
        return "";
      }
      start += key.length() + 2;
      int end = start;
      while (end < header.length()) {
        if (header.charAt(end) == '"') {
          if (end + 1 < header.length() && header.charAt(end + 1) != ',') {
            end++;
            continue;
          }
          break;
        }
        end++;
      }
      return header.substring(Math.min(start, header.length()), Math.min(end, header.length()));
    }
  }
}
