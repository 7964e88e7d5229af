package io.pullmesh.testkit.client;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * The bearer token of one pull and the registry calls around it that are NOT x/transfer's: the manifest GET
 * (server/images.go {@code makeRequestWithRetry} / {@code makeRequest}, Go's default redirect policy) and the
 * token request (server/auth.go {@code getAuthorizationToken}). They use the client that honours a proxy.
 * The token is shared with the x/transfer part, as {@code regOpts.Token} is (server/images.go:1187).
 */
final class XTransferAuth {
  /** x/transfer's challenge, parsed its own way (x/transfer/transfer.go:178-216, unquoted values allowed). */
  record Challenge(String realm, String service, String scope) {
    static Challenge parseTransfer(String header) {
      String h = header.startsWith("Bearer ") ? header.substring(7) : header;
      return new Challenge(value(h, "realm"), value(h, "service"), value(h, "scope"));
    }

    private static String value(String h, String key) {
      int start = h.indexOf(key + "=");
      if (start < 0) {
        return "";
      }
      start += key.length() + 1;
      if (start >= h.length()) {
        return "";
      }
      if (h.charAt(start) == '"') {
        start++;
        int end = h.indexOf('"', start);
        return end < 0 ? h.substring(start) : h.substring(start, end);
      }
      int end = h.indexOf(',', start);
      return end < 0 ? h.substring(start) : h.substring(start, end);
    }
  }

  private final HttpClient registryHttp;
  private final XTransferOptions options;
  private String token = "";

  XTransferAuth(HttpClient registryHttp, XTransferOptions options) {
    this.registryHttp = registryHttp;
    this.options = options;
  }

  /** {@code authToken()} (x/transfer/download.go:51-55); "" when none. */
  synchronized String token() {
    return token;
  }

  /**
   * {@code refreshToken} (x/transfer/download.go:62-77): if another thread already replaced {@code prev}, take
   * its result; else fetch a new token while holding the lock, so concurrent 401s cost one token request.
   */
  synchronized void refresh(Challenge challenge, String prev, String originalHost) throws IOException {
    if (!token.equals(prev)) {
      return;
    }
    if (!options.tokenRefresh) {
      throw new IOException("no token refresh callback");
    }
    token = fetchToken(challenge.realm(), challenge.service(), challenge.scope(), originalHost);
  }

  /**
   * The manifest GET, {@code makeRequestWithRetry} (server/images.go:1309-1353): two rounds; 401 fetches a token
   * for the request's host and tries again; 404 is "file does not exist"; any other status >= 400 is
   * {@code "<status>: <body>"} with the body verbatim (no JSON error parsing); otherwise the body.
   */
  byte[] getManifest(URI uri, String accept) throws IOException {
    for (int i = 0; i < 2; i++) {
      HttpResponse<InputStream> resp = request(uri, Map.of("Accept", accept));
      int status = resp.statusCode();
      if (status == 401) {
        resp.body().close();
        RegistryCalls.Challenge c =
            RegistryCalls.Challenge.parse(resp.headers().firstValue("www-authenticate").orElse(""));
        String t = fetchToken(c.realm(), c.service(), c.scope(), Redirects.host(uri));
        synchronized (this) {
          token = t;
        }
      } else if (status == 404) {
        resp.body().close();
        throw new RegistryCallException(404, "file does not exist");
      } else if (status >= 400) {
        String body = new String(RegistryCalls.body(resp), StandardCharsets.UTF_8);
        throw new RegistryCallException(status, status + ": " + body);
      } else {
        return RegistryCalls.body(resp);
      }
    }
    throw new RegistryCallException(401, "unauthorized: access denied");
  }

  /**
   * {@code makeRequest} (server/images.go:1370-1412) with Go's default client: UA {@code ollama/...}, the bearer
   * token if any, {@code Accept-Encoding: gzip} added as Go's transport does, redirects followed (at most 10,
   * Authorization kept only for the same host name or a subdomain).
   */
  private HttpResponse<InputStream> request(URI uri, Map<String, String> headers) throws IOException {
    URI current = uri;
    for (int redirects = 0; ; redirects++) {
      HttpRequest.Builder b = HttpRequest.newBuilder(current).GET();
      headers.forEach(b::header);
      b.header("User-Agent", options.registryUserAgent).header("Accept-Encoding", "gzip");
      String t = token();
      if (!t.isEmpty() && Redirects.keepsSensitiveHeaders(uri, current)) {
        b.header("Authorization", "Bearer " + t);
      }
      HttpResponse<InputStream> resp = send(b.build());
      String location = resp.headers().firstValue("location").orElse(null);
      if (!Redirects.isRedirect(resp.statusCode()) || location == null) {
        return resp;
      }
      resp.body().close();
      if (redirects + 1 >= 10) {
        throw new IOException("Get \"" + current + "\": stopped after 10 redirects");
      }
      current = current.resolve(location);
    }
  }

  private String fetchToken(String realm, String service, String scope, String originalHost) throws IOException {
    return AuthorizationToken.fetch(this::send, options.registryUserAgent, options.tokenUsername, options.tokenPassword, realm, service,
        scope, originalHost);
  }

  private HttpResponse<InputStream> send(HttpRequest request) throws IOException {
    try {
      return registryHttp.send(request, HttpResponse.BodyHandlers.ofInputStream());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("context canceled", e);
    } catch (IOException e) {
      throw new IOException("Get \"" + request.uri() + "\": " + e, e);
    }
  }

}
