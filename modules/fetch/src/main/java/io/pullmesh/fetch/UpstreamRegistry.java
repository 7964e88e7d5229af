package io.pullmesh.fetch;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.pullmesh.core.ByteRange;
import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.Reference;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.metrics.MetricsRecorder;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.time.Clock;
import java.util.Map;
import java.util.OptionalLong;

/**
 * The upstream registry, as pullmesh needs it: manifests by tag or digest, where a blob's bytes live (following
 * the registry's redirect to its CDN ourselves), and ranged or whole reads of those bytes. Tolerates
 * registry.ollama.ai's quirks: manifests as {@code text/plain} with no Content-Length, a cross-host 307 for
 * every blob, presigned CDN URLs that expire; Hugging Face's chain of redirects (hf.co 307 to huggingface.co with an
 * expiring {@code __sign}, then 302 to its CDN), followed on the locate and on every piece request. Answers 401
 * challenges itself ({@link RegistryAuth}) and never sends the registry's Authorization header to a host that is not
 * its own ({@link UpstreamAccess#ownHosts()}).
 *
 * <p>Requests go out under the User-Agent of the client they are made for, when there is one (registry.ollama.ai
 * gates models by the Ollama version it reads there, and a mirror that says "pullmesh" is refused every new model),
 * else under {@link FetchConfig#userAgent()}. Names go upstream as the client spelled them
 * ({@link RepositoryName#spelled()}). A refusal that says what to do (403, 404, 412, 429) keeps the upstream's words
 * ({@link UpstreamException#words()}).
 *
 * <p>Every returned response is paused: the caller must set its handlers and resume it, or reset it.
 */
public final class UpstreamRegistry implements AutoCloseable {
  private static final int MAX_REDIRECTS = 10;
  private static final int SMALL_BODY = 64 << 10;

  private final URI base;
  private final FetchConfig config;
  private final MetricsRecorder metrics;
  private final HttpClientAgent client;
  private final RegistryAuth auth;
  private final UpstreamAccess access;
  private final Vertx vertx;

  /**
   * @param base the registry's base URL, e.g. {@code https://registry.ollama.ai}
   * @param credentials for registries that want them, or null
   */
  /** The largest piece of a response body handed to a handler at once. */
  static final int BODY_CHUNK = 64 << 10;

  public UpstreamRegistry(Vertx vertx, URI base, FetchConfig config, UpstreamCredentials credentials,
      MetricsRecorder metrics, Clock clock) {
    this(vertx, base, config, UpstreamAccess.of(base.getHost(), credentials), metrics, clock, UpstreamTransport.direct());
  }

  /**
   * As above, with who the registry is ({@code access}: metrics label, own hosts, credentials or token), reached
   * through {@code transport} (extra trusted CAs, a corporate proxy).
   */
  public UpstreamRegistry(Vertx vertx, URI base, FetchConfig config, UpstreamAccess access,
      MetricsRecorder metrics, Clock clock, UpstreamTransport transport) {
    String b = base.toString();
    this.base = URI.create(b.endsWith("/") ? b.substring(0, b.length() - 1) : b);
    this.config = config;
    this.metrics = metrics;
    this.access = access;
    this.vertx = vertx;
    HttpClientOptions options = new HttpClientOptions()
        .setProtocolVersion(HttpVersion.HTTP_1_1)
        .setKeepAlive(true)
        .setTcpNoDelay(true)
        .setDecompressionSupported(false)
        // a body's bytes reach the lanes in pieces as big as a socket read (Netty reads at most 64 KiB), not 8 KiB: an eighth of the
        // handler calls, disk writes and reader wake-ups per GiB (docs/benchmarks.md, "CPU per GiB")
        .setMaxChunkSize(BODY_CHUNK)
        .setConnectTimeout((int) config.connectTimeout().toMillis())
        .setVerifyHost(true)
        // backstop for connections left with a response nobody reads (a stalled probe): close after 2x the stall timeout
        .setIdleTimeout((int) Math.max(1, config.stallTimeout().toSeconds() * 2))
        .setIdleTimeoutUnit(java.util.concurrent.TimeUnit.SECONDS)
        .setMaxRedirects(MAX_REDIRECTS);
    javax.net.ssl.X509TrustManager trust = transport.trustManager();
    if (trust != null) {
      options.setTrustOptions(io.vertx.core.net.TrustOptions.wrap(trust));
    }
    if (transport.proxy() != null) {
      URI p = transport.proxy();
      io.vertx.core.net.ProxyOptions po = new io.vertx.core.net.ProxyOptions().setType(io.vertx.core.net.ProxyType.HTTP)
          .setHost(p.getHost()).setPort(p.getPort() > 0 ? p.getPort() : 3128);
      UpstreamCredentials cred = transport.proxyCredentials();
      if (cred != null) {
        po.setUsername(cred.username()).setPassword(cred.password());
      }
      options.setProxyOptions(po);
    }
    int loops = Math.max(1, 2 * Runtime.getRuntime().availableProcessors());
    PoolOptions pool = new PoolOptions().setHttp1MaxSize(Math.max(32, config.connections() * 4)).setEventLoopSize(loops);
    this.client = vertx.createHttpClient(options, pool);
    this.auth = new RegistryAuth(client, access.credentials(), access.bearerToken(), access.label(), clock, config, metrics);
  }

  public URI base() {
    return base;
  }

  /** The {@code registry} label of this upstream's metrics. */
  public String label() {
    return access.label();
  }

  URI blobUrl(RepositoryName repo, Digest digest) {
    return URI.create(base + "/v2/" + repo.spelled() + "/blobs/" + digest);
  }

  URI manifestUrl(RepositoryName repo, Reference ref) {
    return URI.create(base + "/v2/" + repo.spelled() + "/manifests/" + ref);
  }

  private static String scope(RepositoryName repo) {
    return "repository:" + repo.spelled() + ":pull";
  }

  /**
   * Sends one request. On the registry's own host it carries the cached Authorization header, and a 401 is
   * answered once by authenticating and re-sending; other hosts never get an Authorization header.
   *
   * @param userAgent the client's, or null for {@link FetchConfig#userAgent()}
   * @return the response, paused; fails with {@link UpstreamException}
   */
  Future<HttpClientResponse> send(HttpMethod method, URI url, RepositoryName repo, Map<String, String> headers, String kind,
      String userAgent) {
    boolean registry = access.isOwn(base, url);
    String authHeader = registry ? auth.header(scope(repo)).orElse(null) : null;
    String agent = userAgent == null ? config.userAgent() : userAgent;
    return raw(method, url, headers, authHeader, kind, agent).compose(resp -> {
      if (resp.statusCode() != 401 || !registry) {
        return Future.succeededFuture(resp);
      }
      String challengeHeader = resp.getHeader("WWW-Authenticate");
      AuthChallenge challenge = AuthChallenge.parse(challengeHeader).orElse(null);
      if (challenge == null) {
        // e.g. Hugging Face refusing a token: "Invalid credentials in Authorization header" (ollama #10500)
        return words(resp).compose(w -> Future.failedFuture(new UpstreamException(UpstreamException.Kind.DENIED, 401,
            "upstream " + url.getHost() + " answered 401 without a usable WWW-Authenticate challenge" + (w == null ? "" : ": " + w)
                + (access.bearerToken() != null ? " (check the token-file of this registry in --upstreams)" : ""), w, null)));
      }
      discard(resp);
      return auth.authenticate(challenge, scope(repo))
          .compose(h -> raw(method, url, headers, h, kind, agent))
          .compose(again -> {
            if (again.statusCode() == 401) {
              return words(again).compose(w -> Future.failedFuture(new UpstreamException(UpstreamException.Kind.DENIED, 401,
                  "upstream " + base.getHost() + " refused pullmesh's credentials for " + repo.spelled() + (w == null ? "" : ": " + w)
                      + " (set PULLMESH_UPSTREAM_USERNAME and PULLMESH_UPSTREAM_PASSWORD for private repositories)", w, null)));
            }
            return Future.succeededFuture(again);
          });
    });
  }

  private Future<HttpClientResponse> raw(HttpMethod method, URI url, Map<String, String> headers, String authHeader, String kind,
      String userAgent) {
    RequestOptions o = new RequestOptions()
        .setMethod(method)
        .setAbsoluteURI(url.toString())
        .setFollowRedirects(false)
        .setConnectTimeout(config.connectTimeout().toMillis())
        .setIdleTimeout(config.stallTimeout().toMillis())
        .putHeader("User-Agent", userAgent);
    if (config.via() != null) {
      o.putHeader("Via", "1.1 " + config.via());
    }
    headers.forEach(o::putHeader);
    if (authHeader != null) {
      o.putHeader("Authorization", authHeader);
    }
    String what = kind + " " + method + " " + url.getHost();
    return client.request(o)
        .compose(req -> req.send().map(resp -> {
          resp.pause();
          metrics.upstreamRequest(access.label(), kind, Integer.toString(resp.statusCode()));
          return resp;
        }))
        .recover(t -> {
          metrics.upstreamRequest(access.label(), kind, "error");
          return Future.failedFuture(UpstreamException.classify(t, what));
        });
  }

  /** Throws the rest of a response away: small bodies are read (so the connection is reused), big ones reset. */
  static void discard(HttpClientResponse resp) {
    String len = resp.getHeader(HttpHeaderNames.CONTENT_LENGTH);
    long n = -1;
    try {
      n = len == null ? -1 : Long.parseLong(len.trim());
    } catch (NumberFormatException e) {
      n = -1;
    }
    if (n >= 0 && n <= SMALL_BODY) {
      resp.handler(b -> { });
      resp.exceptionHandler(t -> { });
      resp.endHandler(v -> { });
      resp.resume();
    } else {
      resp.request().reset();
    }
  }

  /** As {@link #manifest(RepositoryName, Reference, String)} with no client attached (prefetch, revalidation). */
  public Future<FetchedManifest> manifest(RepositoryName repo, Reference ref) {
    return manifest(repo, ref, null);
  }

  /**
   * Fetches a manifest. Its bytes are returned unchanged; when asked by digest they are checked against it.
   *
   * @param userAgent the User-Agent of the client it is fetched for, or null for the configured one
   * @return fails with {@link RegistryException}: 404 MANIFEST_UNKNOWN, 403 DENIED, 412 PRECONDITION_FAILED and 429
   *     (with the upstream's words), 502 UPSTREAM_ERROR, 504 UPSTREAM_TIMEOUT
   */
  public Future<FetchedManifest> manifest(RepositoryName repo, Reference ref, String userAgent) {
    URI url = manifestUrl(repo, ref);
    String what = "manifest " + repo.spelled() + ":" + ref;
    return send(HttpMethod.GET, url, repo, Map.of("Accept", ManifestMediaType.ACCEPT), "manifest", userAgent)
        .compose(resp -> {
          int s = resp.statusCode();
          if (s == 200) {
            return withDeadline(readLimited(resp, config.maxManifestBytes(), what), resp, what)
                .map(bytes -> toManifest(bytes, resp.getHeader("Content-Type"), ref, what));
          }
          return refusal(resp, what + " at " + base.getHost());
        })
        .recover(t -> Future.failedFuture(UpstreamException.toRegistryError(t, "upstream", ErrorCode.MANIFEST_UNKNOWN)));
  }

  /** The words of a refusal's body (read up to {@link UpstreamWords#MAX_BODY} bytes), or null; never fails. */
  private Future<String> words(HttpClientResponse resp) {
    if (contentLength(resp) > UpstreamWords.MAX_BODY) {
      discard(resp);
      return Future.succeededFuture(null);
    }
    String type = resp.getHeader("Content-Type");
    return readLimited(resp, UpstreamWords.MAX_BODY, "refusal").transform(ar -> Future.succeededFuture(
        ar.succeeded() ? UpstreamWords.of(type, ar.result().getBytes()) : null));
  }

  /**
   * Fails with the error a non-success answer means, its words read from the body (up to {@link UpstreamWords#MAX_BODY}
   * bytes; a longer body is cut) for a 4xx.
   */
  private <T> Future<T> refusal(HttpClientResponse resp, String what) {
    int s = resp.statusCode();
    if (s < 400 || s >= 500) {
      discard(resp);
      return Future.failedFuture(UpstreamStatus.of(s, what, null));
    }
    return words(resp).compose(w -> Future.failedFuture(UpstreamStatus.of(s, what, w)));
  }

  /** Fails {@code body} with a timeout, and resets the response, once {@link FetchConfig#manifestDeadline()} has passed. */
  private <T> Future<T> withDeadline(Future<T> body, HttpClientResponse resp, String what) {
    Promise<T> p = Promise.promise();
    long timer = vertx.setTimer(config.manifestDeadline().toMillis(), id -> {
      if (p.tryFail(new UpstreamException(UpstreamException.Kind.TIMEOUT, 200, what + ": upstream took longer than "
          + config.manifestDeadline().toSeconds() + " s to send the manifest"))) {
        resp.request().reset();
      }
    });
    body.onComplete(ar -> {
      vertx.cancelTimer(timer);
      if (ar.succeeded()) {
        p.tryComplete(ar.result());
      } else {
        p.tryFail(ar.cause());
      }
    });
    return p.future();
  }

  private FetchedManifest toManifest(Buffer body, String contentType, Reference ref, String what) {
    byte[] bytes = body.getBytes();
    try {
      new JsonObject(body);
    } catch (RuntimeException e) {
      // never cached, never served as a manifest (issue 18): a captive portal's page, an error page with a 200
      throw new UpstreamException(UpstreamException.Kind.FATAL, 200, what + ": upstream answered 200 with a body that is not a JSON manifest"
          + (contentType == null ? "" : " (" + contentType + ")"));
    }
    Digest digest = Digest.of(bytes);
    if (ref.isDigest() && !ref.digest().orElseThrow().equals(digest)) {
      throw new RegistryException(ErrorCode.UPSTREAM_ERROR,
          what + ": upstream sent a manifest whose sha256 is " + digest + ", not the digest asked for");
    }
    return new FetchedManifest(bytes, ManifestMediaType.of(contentType, bytes), digest);
  }

  private Future<Buffer> readLimited(HttpClientResponse resp, int limit, String what) {
    Promise<Buffer> p = Promise.promise();
    Buffer acc = Buffer.buffer();
    resp.handler(chunk -> {
      metrics.upstreamBytes(access.label(), "manifest", chunk.length());
      if (acc.length() + chunk.length() > limit) {
        if (p.tryFail(new UpstreamException(UpstreamException.Kind.FATAL, 200,
            what + ": upstream manifest is larger than " + limit + " bytes"))) {
          resp.request().reset();
        }
        return;
      }
      acc.appendBuffer(chunk);
    });
    resp.exceptionHandler(t -> p.tryFail(UpstreamException.classify(t, what)));
    resp.endHandler(v -> p.tryComplete(acc));
    resp.resume();
    return p.future();
  }

  /** As {@link #locate(RepositoryName, Digest, String)} with no client attached. */
  public Future<BlobLocation> locate(RepositoryName repo, Digest digest) {
    return locate(repo, digest, null);
  }

  /**
   * Finds where a blob's bytes are and how big it is: a ranged GET of its first byte, following redirects
   * (the registry's 307 to the CDN, Hugging Face's 307 and 302; the registry's auth never crosses to another host).
   *
   * @param userAgent the User-Agent of the client the blob is fetched for, or null for the configured one; the
   *     location keeps it for the piece requests that follow
   * @return fails with {@link UpstreamException}: NOT_FOUND, DENIED, RETRYABLE, TIMEOUT, FATAL
   */
  public Future<BlobLocation> locate(RepositoryName repo, Digest digest, String userAgent) {
    return locateFrom(repo, digest, blobUrl(repo, digest), 0, userAgent);
  }

  private Future<BlobLocation> locateFrom(RepositoryName repo, Digest digest, URI url, int hops, String userAgent) {
    String what = "blob " + digest.shortHex();
    return send(HttpMethod.GET, url, repo, Map.of("Range", "bytes=0-0"), "locate", userAgent).compose(resp -> {
      int s = resp.statusCode();
      if (isRedirect(resp)) {
        return next(resp, url, hops, what).compose(nextUrl -> locateFrom(repo, digest, nextUrl, hops + 1, userAgent));
      }
      if (s == 206) {
        ContentRange r = ContentRange.of(resp.getHeader("Content-Range")).orElse(null);
        if (r == null || r.total() < 0) {
          discard(resp);
          return Future.failedFuture(new UpstreamException(UpstreamException.Kind.FATAL, s, what + ": upstream 206 without a usable Content-Range"));
        }
        long size = r.total();
        countAndDiscard(resp);
        return Future.succeededFuture(new BlobLocation(repo, digest, url, size, true, userAgent));
      }
      if (s == 200) {
        long size = contentLength(resp);
        resp.request().reset();
        if (size < 0) {
          return Future.failedFuture(new UpstreamException(UpstreamException.Kind.FATAL, s, what + ": upstream ignores Range and sends no Content-Length, so the blob size is unknown"));
        }
        return Future.succeededFuture(new BlobLocation(repo, digest, url, size, false, userAgent));
      }
      if (s == 416) {
        OptionalLong size = ContentRange.unsatisfiedSize(resp.getHeader("Content-Range"));
        discard(resp);
        if (size.isPresent() && size.getAsLong() == 0) {
          return Future.succeededFuture(new BlobLocation(repo, digest, url, 0, true, userAgent));
        }
        return Future.failedFuture(new UpstreamException(UpstreamException.Kind.FATAL, s, what + ": upstream refused the first byte (416)"));
      }
      return refusal(resp, what + " at " + url.getHost());
    });
  }

  private static boolean isRedirect(HttpClientResponse resp) {
    int s = resp.statusCode();
    return s >= 300 && s < 400 && resp.getHeader("Location") != null;
  }

  /** Where a redirect leads, after throwing its body away; fails past {@link #MAX_REDIRECTS} or for a non-HTTP target. */
  private static Future<URI> next(HttpClientResponse resp, URI from, int hops, String what) {
    int s = resp.statusCode();
    String location = resp.getHeader("Location");
    discard(resp);
    if (hops >= MAX_REDIRECTS) {
      return Future.failedFuture(new UpstreamException(UpstreamException.Kind.FATAL, s, what + ": more than " + MAX_REDIRECTS + " redirects upstream"));
    }
    try {
      URI next = from.resolve(location.trim());
      if (next.getHost() == null || !(next.getScheme().equals("http") || next.getScheme().equals("https"))) {
        throw new IllegalArgumentException(location);
      }
      return Future.succeededFuture(next);
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(new UpstreamException(UpstreamException.Kind.FATAL, s, what + ": upstream redirected to an unusable URL"));
    }
  }

  private void countAndDiscard(HttpClientResponse resp) {
    resp.handler(b -> metrics.upstreamBytes(access.label(), "blob", b.length()));
    resp.exceptionHandler(t -> { });
    resp.endHandler(v -> { });
    resp.resume();
  }

  static long contentLength(HttpClientResponse resp) {
    String len = resp.getHeader(HttpHeaderNames.CONTENT_LENGTH);
    try {
      return len == null ? -1 : Long.parseLong(len.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /**
   * Opens a ranged read of a located blob, following any redirect on the way (a CDN may send each range elsewhere).
   * Succeeds only with a 206 whose Content-Range is exactly the range asked for (or a 200 when the range is the whole
   * blob).
   *
   * @return the paused response; fails with {@link UpstreamException}: URL_REFUSED when the CDN refuses the
   *     presigned URL, RANGE_IGNORED for a 200 to a partial range, RETRYABLE, TIMEOUT, NOT_FOUND, FATAL
   */
  public Future<HttpClientResponse> openRange(BlobLocation loc, ByteRange range) {
    return openRange(loc, range, loc.url(), 0);
  }

  private Future<HttpClientResponse> openRange(BlobLocation loc, ByteRange range, URI url, int hops) {
    String what = "blob " + loc.digest().shortHex() + " bytes " + range;
    return send(HttpMethod.GET, url, loc.repository(), Map.of("Range", range.rangeHeader()), "piece", loc.userAgent()).compose(resp -> {
      int s = resp.statusCode();
      if (isRedirect(resp)) {
        return next(resp, url, hops, what).compose(nextUrl -> openRange(loc, range, nextUrl, hops + 1));
      }
      boolean whole = range.first() == 0 && range.last() == loc.size() - 1;
      if (s == 206) {
        if (ContentRange.of(resp.getHeader("Content-Range")).filter(r -> r.is(range.first(), range.last(), loc.size())).isPresent()) {
          return Future.succeededFuture(resp);
        }
        resp.request().reset();
        return Future.failedFuture(new UpstreamException(UpstreamException.Kind.RETRYABLE, s,
            what + ": upstream answered Content-Range " + resp.getHeader("Content-Range")));
      }
      if (s == 200) {
        if (whole && contentLength(resp) == loc.size()) {
          return Future.succeededFuture(resp);
        }
        resp.request().reset();
        return Future.failedFuture(new UpstreamException(UpstreamException.Kind.RANGE_IGNORED, s, what + ": upstream ignored Range"));
      }
      discard(resp);
      return Future.failedFuture(pieceStatusError(s, loc, url, what));
    });
  }

  /**
   * Opens a whole-body read, for upstreams that do not do ranges, following redirects.
   *
   * @return the paused response (200 with the blob's size); fails like {@link #openRange}
   */
  public Future<HttpClientResponse> openWhole(BlobLocation loc) {
    return openWhole(loc, loc.url(), 0);
  }

  private Future<HttpClientResponse> openWhole(BlobLocation loc, URI url, int hops) {
    String what = "blob " + loc.digest().shortHex();
    return send(HttpMethod.GET, url, loc.repository(), Map.of(), "stream", loc.userAgent()).compose(resp -> {
      int s = resp.statusCode();
      if (isRedirect(resp)) {
        return next(resp, url, hops, what).compose(nextUrl -> openWhole(loc, nextUrl, hops + 1));
      }
      if (s == 200) {
        long len = contentLength(resp);
        if (len >= 0 && len != loc.size()) {
          resp.request().reset();
          return Future.failedFuture(new UpstreamException(UpstreamException.Kind.FATAL, s,
              what + ": upstream now says " + len + " bytes, earlier " + loc.size()));
        }
        return Future.succeededFuture(resp);
      }
      discard(resp);
      return Future.failedFuture(pieceStatusError(s, loc, url, what));
    });
  }

  private UpstreamException pieceStatusError(int s, BlobLocation loc, URI url, String what) {
    return UpstreamStatus.ofPiece(s, !url.equals(blobUrl(loc.repository(), loc.digest())), url.getHost(), loc.size(), what);
  }

  @Override
  public void close() {
    client.close();
  }
}
