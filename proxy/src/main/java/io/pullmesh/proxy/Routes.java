package io.pullmesh.proxy;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RegistryRoute;
import io.pullmesh.fetch.NamespaceRouter;
import io.pullmesh.mesh.MeshPeers;
import io.pullmesh.metrics.MetricsRecorder;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * Which handler answers a request, on each of the node's servers: the client port ({@link #handle}: CONNECT and
 * absolute-form requests of clients using this node as their proxy, the registry API, blob storage URLs of intercepted
 * hosts, the admin and peer APIs, /healthz, /metrics, the status page, /ca.crt), the TLS server of intercepted
 * connections ({@link #handleIntercepted}) and the transfer port ({@link #handleTransfer}). Each request is timed into
 * the metrics under a bounded route tag, and a failure is answered as a registry error. On the request's event loop;
 * never blocks it.
 *
 * <p>Not for answering what it routes (the handlers are {@link BlobHandler}, {@link ManifestHandler}, {@link AdminApi},
 * {@link PeerApi}, {@link ForwardProxy}), nor for the servers themselves, their deadlines or lifecycle
 * ({@link PullmeshProxy}).
 */
final class Routes {
  private static final Logger LOG = Logger.getLogger(Routes.class.getName());
  private static final Buffer STATUS_PAGE = loadStatusPage();

  /** What the routes read of the node they run in. */
  interface Node {
    /** Whether the node has started and not yet stopped. */
    boolean ready();

    /** The client port, once it listens. */
    int port();

    /** The peer API when the node is in a mesh, else null. */
    PeerApi peerApi();
  }

  private final Vertx vertx;
  private final ProxyConfig config;
  private final Node node;
  private final ForwardProxy forward;
  private final NamespaceRouter names;
  private final BlobHandler blobs;
  private final ManifestHandler manifests;
  private final BlobOrigins origins;
  private final AdminApi admin;
  private final Supplier<CacheHealth.State> health;
  private final PrometheusMeterRegistry registry;
  private final MetricsRecorder metrics;
  /** This node's token in the Via header of its upstream requests, or null. */
  private final String via;

  Routes(Vertx vertx, ProxyConfig config, Node node, ForwardProxy forward, NamespaceRouter names, BlobHandler blobs,
      ManifestHandler manifests, BlobOrigins origins, AdminApi admin, Supplier<CacheHealth.State> health,
      PrometheusMeterRegistry registry, MetricsRecorder metrics, String via) {
    this.vertx = vertx;
    this.config = config;
    this.node = node;
    this.forward = forward;
    this.names = names;
    this.blobs = blobs;
    this.manifests = manifests;
    this.origins = origins;
    this.admin = admin;
    this.health = health;
    this.registry = registry;
    this.metrics = metrics;
    this.via = via;
  }

  private static Buffer loadStatusPage() {
    try (java.io.InputStream in = Routes.class.getResourceAsStream("status.html")) {
      if (in == null) {
        throw new IllegalStateException("status.html is missing from the jar");
      }
      return Buffer.buffer(in.readAllBytes());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** A request on the client port. */
  void handle(HttpServerRequest req) {
    if (req.method() == HttpMethod.CONNECT) {
      forward.connect(req);
      return;
    }
    String uri = req.uri();
    if (!uri.startsWith("/") && !uri.equals("*")) {
      // absolute form (GET http://host/path): a client using this node as its HTTP proxy
      URI target = absoluteTarget(uri);
      String host = target == null ? null : target.getHost();
      if (host != null && forward.intercepts(host)) {
        serveAs(req, host);
        return;
      }
      if (host == null || !isThisNode(req, target)) {
        metrics.proxyConnect("refused");
        ForwardProxy.refuse(req, host == null ? 400 : 403, host == null ? "cannot read the request target " + uri
            : "pullmesh is not an open proxy: it answers for " + config.interception().intercept() + " only");
        return;
      }
    }
    serveLocal(req);
  }

  /** An absolute-form request target ({@code http(s)://host/...}); null for anything else. */
  private static URI absoluteTarget(String uri) {
    try {
      URI u = new URI(uri);
      return "http".equalsIgnoreCase(u.getScheme()) || "https".equalsIgnoreCase(u.getScheme()) ? u : null;
    } catch (URISyntaxException e) {
      return null;
    }
  }

  /** Whether an absolute-form request names this node itself (its port, on a loopback or the listen address). */
  private boolean isThisNode(HttpServerRequest req, URI u) {
    int p = u.getPort() > 0 ? u.getPort() : ("https".equalsIgnoreCase(u.getScheme()) ? 443 : 80);
    if (p != node.port()) {
      return false;
    }
    String h = u.getHost();
    String literal = h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
    // an IP literal on loopback, not any name that starts with "127." (issue 18: http://127.evil.example/ was taken for this node)
    return h.equalsIgnoreCase("localhost") || AdminGuard.isLoopback(literal) || h.equals(config.listenHost())
        || (req.localAddress() != null && literal.equals(req.localAddress().hostAddress()));
  }

  /** A request that reached this node's TLS server through an intercepted CONNECT. */
  void handleIntercepted(HttpServerRequest req) {
    io.vertx.core.net.HostAndPort a = req.authority();
    String host = a == null ? null : a.host();
    if (host == null || !forward.intercepts(host)) {
      req.response().setStatusCode(421).putHeader("Content-Type", "text/plain; charset=utf-8")
          .end("pullmesh: this connection answers for " + config.interception().intercept() + " only, not " + host + "\n");
      return;
    }
    serveAs(req, host);
  }

  /**
   * Answers 508 to a request this node itself sent upstream (its token in {@code Via}): an upstream that redirects a blob
   * to pullmesh, or two nodes configured as each other's upstream, would otherwise have the node wait on itself until a
   * timeout (issue 18).
   *
   * @return whether it did (the request is answered)
   */
  boolean cameBack(HttpServerRequest req) {
    String v = req.getHeader("Via");
    if (via == null || v == null || !v.contains(via)) {
      return false;
    }
    LOG.warning(() -> "refused a request that came back to this node (Via: " + v + "): " + req.method() + " " + req.path());
    Responses.error(req.response(), new RegistryException(ErrorCode.LOOP_DETECTED, "this request came from this very node: its upstream "
        + "sent it back here (check --upstream, and the upstream's redirects)"), req.method() == HttpMethod.HEAD);
    return true;
  }

  /**
   * A request on the transfer port: the registry API only (an x/transfer client GETs the blob URL it was redirected to
   * there). Nothing else is served on it: no admin API, no metrics.
   */
  void handleTransfer(HttpServerRequest req) {
    Exchange ex = Exchange.onTransferPort(req);
    timed(ex, "transfer-" + routeTag(req.path()));
    answer(ex, () -> {
      if (!req.path().startsWith("/v2/")) {
        throw new RegistryException(ErrorCode.NOT_FOUND, "this port serves blobs to Ollama's x/transfer downloader only: /v2/<name>/blobs/<digest>");
      }
      serveRegistry(ex, null);
    });
  }

  /**
   * Answers a request for an intercepted host from the cache: the registry API (from the configured upstream)
   * and blob URLs in the registry's storage layout (the presigned CDN URLs registry.ollama.ai redirects to; the
   * signature is ignored, the digest is the key). Nothing else: no admin API, no metrics.
   */
  private void serveAs(HttpServerRequest req, String host) {
    Exchange ex = new Exchange(req, true, forward.clientOf(req));
    String path = req.path();
    timed(ex, "intercepted-" + routeTag(path));
    answer(ex, () -> {
      if (path.startsWith("/v2/") || path.equals("/v2")) {
        // a registry host routed here (hf.co, modelscope.cn) keys its names with the host; registry.ollama.ai's stay bare
        serveRegistry(ex, host);
        return;
      }
      Digest d = BlobOrigins.digestOfStoragePath(path);
      if (d == null) {
        throw new RegistryException(ErrorCode.NOT_FOUND, "pullmesh answers for " + host + " only at /v2/... and blob storage URLs, not " + path);
      }
      if (req.method() != HttpMethod.GET && req.method() != HttpMethod.HEAD) {
        throw new RegistryException(ErrorCode.UNSUPPORTED, req.method() + " is not supported: pullmesh is a read-only mirror");
      }
      origins.find(d).onComplete(ar -> {
        if (ar.failed() || ar.result().isEmpty()) {
          Responses.error(ex.response, new RegistryException(ErrorCode.BLOB_UNKNOWN, "pullmesh does not know which model " + d
              + " belongs to: pull its manifest through pullmesh first"), req.method() == HttpMethod.HEAD);
          return;
        }
        blobs.handle(ex, new RegistryRoute.Blob(ar.result().get(), d));
      });
    });
  }

  private void serveLocal(HttpServerRequest req) {
    Exchange ex = new Exchange(req);
    HttpServerResponse resp = req.response();
    String path = req.path();
    timed(ex, routeTag(path));
    answer(ex, () -> {
      switch (path) {
        case "/healthz" -> {
          resp.putHeader("Content-Type", "text/plain; charset=utf-8");
          CacheHealth.State h = health.get();
          if (!node.ready()) {
            resp.setStatusCode(503).end("starting\n");
          } else if (!h.writable()) {
            // cached blobs are still served; new ones cannot be stored: not ready for new pulls, the truth for a probe
            resp.setStatusCode(503).end("degraded: " + h.reason() + "\n");
          } else {
            resp.setStatusCode(200).end("ok\n");
          }
          return;
        }
        case "/metrics" -> {
          vertx.executeBlocking(registry::scrape, false).onComplete(ar -> {
            if (ar.failed()) {
              Responses.error(resp, ar.cause(), false);
            } else {
              resp.putHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8").end(ar.result());
            }
          });
          return;
        }
        case "/", "/status" -> {
          String accept = req.getHeader("Accept");
          if (path.equals("/status") || (accept != null && accept.contains("text/html"))) {
            // the live status page: static HTML whose script polls the read-only admin API
            resp.putHeader("Content-Type", "text/html; charset=utf-8").putHeader("Cache-Control", "no-cache").end(STATUS_PAGE);
            return;
          }
          resp.putHeader("Content-Type", "text/plain; charset=utf-8").end("pullmesh proxy " + ProxyConfig.VERSION
              + ": a caching mirror of " + Redaction.url(config.upstream()) + "\n"
              + "pull through it: ollama pull --insecure " + hostOf(req) + "/library/<model>:<tag>\n"
              + "endpoints: /v2/ (registry API), /status (live status page), /healthz, /metrics, /admin/v1/" + (forward.intercepting() ? ", /ca.crt (the CA to trust for HTTPS_PROXY use)" : "") + "\n");
          return;
        }
        default -> { }
      }
      if (path.startsWith(AdminApi.PREFIX)) {
        admin.handle(req);
        return;
      }
      if (PeerApi.handles(path)) {
        PeerApi peers = node.peerApi();
        if (peers == null) {
          throw new RegistryException(ErrorCode.NOT_FOUND, "this node is not in a mesh (--mesh-name)");
        }
        peers.handle(ex);
        return;
      }
      if (path.equals("/ca.crt") && forward.intercepting()) {
        resp.putHeader("Content-Type", "application/x-pem-file")
            .putHeader("Content-Disposition", "attachment; filename=\"pullmesh-ca.crt\"")
            .end(forward.ca().certificatePem());
        return;
      }
      serveRegistry(ex, null);
    });
  }

  /**
   * The registry API: /v2/, manifests, blobs. Throws RegistryException for what it cannot answer.
   *
   * @param host the host the request was made to through HTTPS_PROXY, or null for requests by name (see
   *     {@link NamespaceRouter})
   */
  private void serveRegistry(Exchange ex, String host) {
    HttpServerRequest req = ex.request;
    HttpServerResponse resp = ex.response;
    RegistryRoute route = names.route(req.path(), host);
    if (route == null) {
      throw new RegistryException(ErrorCode.NOT_FOUND, "no such path on pullmesh: " + req.path());
    }
    resp.putHeader("Docker-Distribution-API-Version", "registry/2.0");
    if (req.method() != HttpMethod.GET && req.method() != HttpMethod.HEAD) {
      throw new RegistryException(ErrorCode.UNSUPPORTED, req.method() + " is not supported: pullmesh is a read-only mirror");
    }
    if (route instanceof RegistryRoute.Base) {
      resp.putHeader("Content-Type", "application/json").putHeader("Content-Length", "2");
      if (req.method() == HttpMethod.HEAD) {
        resp.end();
      } else {
        resp.end("{}");
      }
    } else if (route instanceof RegistryRoute.Manifest m) {
      manifests.handle(ex, m);
    } else if (route instanceof RegistryRoute.Blob b) {
      blobs.handle(ex, b);
    } else {
      throw new RegistryException(ErrorCode.NAME_UNKNOWN, "pullmesh does not mirror tag listings");
    }
  }

  /** Times the exchange into the request metrics under {@code tag} when it is over. */
  private void timed(Exchange ex, String tag) {
    long started = System.nanoTime();
    ex.onDone(() -> metrics.httpRequest(tag, ex.request.method().name(), ex.response.getStatusCode(), System.nanoTime() - started));
  }

  /** Runs {@code route}, answering what it throws as a registry error. */
  private static void answer(Exchange ex, Runnable route) {
    boolean head = ex.request.method() == HttpMethod.HEAD;
    try {
      route.run();
    } catch (RegistryException e) {
      Responses.error(ex.response, e, head);
    } catch (RuntimeException e) {
      Responses.error(ex.response, new RegistryException(ErrorCode.INTERNAL_ERROR, e.toString(), e), head);
    }
  }

  private static String hostOf(HttpServerRequest req) {
    return req.authority() == null ? "localhost:9200" : req.authority().toString();
  }

  /** The route's bounded name for the request metrics. */
  static String routeTag(String path) {
    if (path.startsWith(AdminApi.PREFIX)) {
      return "admin";
    }
    if (path.startsWith("/v2/")) {
      if (path.contains("/blobs/")) {
        return "blob";
      }
      if (path.contains("/manifests/")) {
        return "manifest";
      }
      return "registry";
    }
    return switch (path) {
      case "/healthz" -> "healthz";
      case "/metrics" -> "metrics";
      case "/", "/v2" -> "base";
      case "/status" -> "status";
      case "/ca.crt" -> "ca";
      default -> path.startsWith(MeshPeers.BLOBS) ? "peer" : "other";
    };
  }
}
