package io.pullmesh.fetch;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.pullmesh.metrics.MetricsRecorder;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Answers the upstream registry's 401 challenges, so clients never see them: a {@code Bearer} challenge gets
 * a token from its realm (anonymously, or with the configured credentials), cached per scope until shortly
 * before it expires; a {@code Basic} challenge gets the configured credentials. Concurrent requests for the
 * same scope share one token request.
 */
final class RegistryAuth {
  private static final long EXPIRY_MARGIN_MS = 10_000;
  private static final int MAX_TOKEN_RESPONSE = 64 << 10;

  private record Token(String header, long expiresAt) {}

  private final HttpClientAgent client;
  private final UpstreamCredentials credentials;
  private final String bearerToken;
  private final String label;
  private final Clock clock;
  private final FetchConfig config;
  private final MetricsRecorder metrics;
  private final Map<String, Token> tokens = new ConcurrentHashMap<>();
  private final Map<String, Future<String>> pending = new ConcurrentHashMap<>();
  private volatile String basicHeader;

  /** @param bearerToken a token sent before any challenge asks for one (an HF token), or null */
  RegistryAuth(HttpClientAgent client, UpstreamCredentials credentials, String bearerToken, String label, Clock clock,
      FetchConfig config, MetricsRecorder metrics) {
    this.client = client;
    this.credentials = credentials;
    this.bearerToken = bearerToken;
    this.label = label;
    this.clock = clock;
    this.config = config;
    this.metrics = metrics;
  }

  /**
   * The Authorization header to send for {@code scope}: a fresh token a challenge gave, else Basic credentials a
   * challenge asked for, else the configured bearer token, else none.
   */
  Optional<String> header(String scope) {
    Token t = tokens.get(scope);
    if (t != null && t.expiresAt - EXPIRY_MARGIN_MS > clock.millis()) {
      return Optional.of(t.header);
    }
    if (basicHeader != null) {
      return Optional.of(basicHeader);
    }
    return bearerToken == null ? Optional.empty() : Optional.of("Bearer " + bearerToken);
  }

  /**
   * Obtains an Authorization header that answers {@code challenge}.
   *
   * @return fails with {@link UpstreamException} of kind DENIED when the challenge cannot be answered (no
   *     credentials for Basic, the realm refuses), RETRYABLE/TIMEOUT when the token endpoint is down
   */
  Future<String> authenticate(AuthChallenge challenge, String defaultScope) {
    if (challenge.isBasic()) {
      if (credentials == null) {
        return Future.failedFuture(new UpstreamException(UpstreamException.Kind.DENIED, 401,
            "upstream registry wants a username and password: set PULLMESH_UPSTREAM_USERNAME and PULLMESH_UPSTREAM_PASSWORD"));
      }
      basicHeader = credentials.basicHeader();
      return Future.succeededFuture(basicHeader);
    }
    if (!challenge.isBearer() || challenge.param("realm").isEmpty()) {
      return Future.failedFuture(new UpstreamException(UpstreamException.Kind.DENIED, 401,
          "upstream registry sent an authentication challenge pullmesh cannot answer: " + challenge.scheme()));
    }
    String scope = challenge.param("scope").orElse(defaultScope);
    return pending.computeIfAbsent(scope, s -> {
      Future<String> f = fetchToken(challenge, s);
      f.onComplete(ar -> pending.remove(s));
      return f;
    });
  }

  private Future<String> fetchToken(AuthChallenge challenge, String scope) {
    String realm = challenge.param("realm").orElseThrow();
    StringBuilder url = new StringBuilder(realm).append(realm.contains("?") ? '&' : '?');
    challenge.param("service").ifPresent(s -> url.append("service=").append(enc(s)).append('&'));
    url.append("scope=").append(enc(scope));
    URI uri;
    try {
      uri = URI.create(url.toString());
      if (uri.getHost() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))) {
        throw new IllegalArgumentException("not an http(s) URL");
      }
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(new UpstreamException(UpstreamException.Kind.DENIED, 401,
          "upstream registry named an unusable token realm " + realm));
    }
    RequestOptions o = new RequestOptions().setMethod(HttpMethod.GET).setAbsoluteURI(uri.toString())
        .setFollowRedirects(true).setConnectTimeout(config.connectTimeout().toMillis())
        .setIdleTimeout(config.stallTimeout().toMillis()).putHeader("User-Agent", config.userAgent());
    if (credentials != null) {
      o.putHeader("Authorization", credentials.basicHeader());
    }
    Promise<String> result = Promise.promise();
    client.request(o).compose(req -> req.send()).onComplete(ar -> {
      if (ar.failed()) {
        metrics.upstreamRequest(label, "token", "error");
        result.fail(UpstreamException.classify(ar.cause(), "token request to " + uri.getHost()));
        return;
      }
      HttpClientResponse resp = ar.result();
      metrics.upstreamRequest(label, "token", Integer.toString(resp.statusCode()));
      if (resp.statusCode() != 200) {
        resp.request().reset();
        UpstreamException.Kind kind = resp.statusCode() >= 500 ? UpstreamException.Kind.RETRYABLE : UpstreamException.Kind.DENIED;
        result.fail(new UpstreamException(kind, resp.statusCode(), "upstream token endpoint " + uri.getHost()
            + " answered " + resp.statusCode() + (credentials == null ? " (no credentials configured)" : " (check PULLMESH_UPSTREAM_USERNAME/PASSWORD)")));
        return;
      }
      resp.body().onComplete(body -> {
        if (body.failed() || body.result().length() > MAX_TOKEN_RESPONSE) {
          result.fail(new UpstreamException(UpstreamException.Kind.RETRYABLE, 200, "upstream token response unreadable"));
          return;
        }
        try {
          JsonObject json = body.result().toJsonObject();
          String token = json.getString("token", json.getString("access_token"));
          if (token == null || token.isEmpty()) {
            throw new DecodeException("no token field");
          }
          long ttl = json.getLong("expires_in", 60L);
          String header = "Bearer " + token;
          tokens.put(scope, new Token(header, clock.millis() + ttl * 1000));
          result.complete(header);
        } catch (RuntimeException e) {
          result.fail(new UpstreamException(UpstreamException.Kind.DENIED, 200, "upstream token response has no token: " + e.getMessage()));
        }
      });
    });
    return result.future();
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }
}
