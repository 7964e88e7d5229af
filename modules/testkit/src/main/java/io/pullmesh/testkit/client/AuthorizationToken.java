package io.pullmesh.testkit.client;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * server/auth.go {@code getAuthorizationToken} (53-100), which both of Ollama's pull paths call: the classic one from
 * {@code makeRequestWithRetry}, x/transfer through the {@code GetToken} callback server/images.go passes it
 * (1172-1178). The realm must be on the host (and port) the request went to (Ollama #13738); the token request is
 * {@code GET realm?service=..&scope=..&ts=..&nonce=..}; a status of 400 or more is {@code "<status>: <body>"}. Each
 * client sends the request its own way ({@link Sender}), so errors keep its wording.
 */
final class AuthorizationToken {
  /** How a client sends one request. */
  @FunctionalInterface
  interface Sender {
    HttpResponse<InputStream> send(HttpRequest request) throws IOException;
  }

  private static final SecureRandom RANDOM = new SecureRandom();

  private AuthorizationToken() {}

  /**
   * @param originalHost Go's {@code url.Host} of the request that was challenged (host and port, no user info)
   * @param username the Basic credentials a test gives instead of Ollama's ed25519 signature, or null
   * @return the token ("" when the answer has none)
   * @throws RegistryCallException for a realm on another host (status 0) or a refusal (its status)
   */
  static String fetch(Sender sender, String userAgent, String username, String password, String realm, String service, String scope,
      String originalHost) throws IOException {
    URI realmUri;
    try {
      realmUri = URI.create(realm);
    } catch (IllegalArgumentException e) {
      throw new IOException("parse \"" + realm + "\": " + e.getMessage(), e);
    }
    String realmHost = Redirects.host(realmUri);
    if (!realmHost.equals(originalHost)) {
      throw new RegistryCallException(0, "realm host \"" + realmHost + "\" does not match original host \"" + originalHost + "\"");
    }
    StringBuilder q = new StringBuilder(realmUri.getRawQuery() == null ? "" : realmUri.getRawQuery());
    param(q, "service", service);
    for (String s : scope.split(" ", -1)) {
      param(q, "scope", s);
    }
    param(q, "ts", Long.toString(System.currentTimeMillis() / 1000));
    byte[] nonce = new byte[16];
    RANDOM.nextBytes(nonce);
    param(q, "nonce", Base64.getEncoder().encodeToString(nonce));
    URI tokenUri = URI.create(realmUri.getScheme() + "://" + realmUri.getRawAuthority()
        + (realmUri.getRawPath() == null ? "" : realmUri.getRawPath()) + "?" + q);
    HttpRequest.Builder b = HttpRequest.newBuilder(tokenUri).GET().header("User-Agent", userAgent).header("Accept-Encoding", "gzip");
    if (username != null) {
      b.header("Authorization", "Basic " + Base64.getEncoder().encodeToString((username + ":" + password).getBytes(StandardCharsets.UTF_8)));
    } else {
      // Real Ollama signs "GET,<url>,<sha256 of nothing>" with its ed25519 key; the fake registry ignores this header.
      b.header("Authorization", "fakekey:" + HexFormat.of().formatHex(nonce));
    }
    HttpResponse<InputStream> resp = sender.send(b.build());
    String body = new String(RegistryCalls.body(resp), StandardCharsets.UTF_8);
    if (resp.statusCode() >= 400) {
      throw new RegistryCallException(resp.statusCode(), body.isEmpty() ? Integer.toString(resp.statusCode()) : resp.statusCode() + ": " + body);
    }
    try {
      return new JsonObject(body).getString("token", "");
    } catch (RuntimeException e) {
      throw new IOException("token response is not JSON: " + body, e);
    }
  }

  private static void param(StringBuilder q, String key, String value) {
    if (q.length() > 0) {
      q.append('&');
    }
    q.append(key).append('=').append(URLEncoder.encode(value, StandardCharsets.UTF_8));
  }
}
