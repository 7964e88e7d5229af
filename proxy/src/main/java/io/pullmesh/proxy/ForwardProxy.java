package io.pullmesh.proxy;

import io.pullmesh.metrics.MetricsRecorder;
import io.pullmesh.tls.CertificateAuthority;
import io.pullmesh.tls.LeafIssuer;
import io.pullmesh.tls.SniKeyManager;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.net.KeyCertOptions;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import java.net.URI;
import java.time.Duration;
import java.util.logging.Logger;

/**
 * The forward-proxy half of pullmesh, for clients run with {@code HTTPS_PROXY=http://pullmesh:9200}.
 *
 * <p>{@code CONNECT host:port} for an intercepted host (by default registry.ollama.ai and its blob CDN): pullmesh
 * answers 200 and hands the client's connection to its own TLS server ({@link ConnectHandoff}), which presents a
 * certificate for the host the client named (SNI) minted by pullmesh's CA, and serves what is asked through the
 * same cache as the mirror API. Where the handoff is not available, the connection is spliced to that server's
 * loopback port instead (the same service, with two more socket copies of every byte). For a host on the tunnel
 * list, the connection is spliced to the host itself, bytes unchanged. Every other CONNECT gets 403: pullmesh is
 * not an open proxy.
 *
 * <p>Spliced connections are joined by a {@link Splice}.
 */
final class ForwardProxy {
  private static final Logger LOG = Logger.getLogger(ForwardProxy.class.getName());

  /** A CONNECT's target. */
  record Target(String host, int port) {
    @Override
    public String toString() {
      return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
  }

  private final ProxyConfig.Interception config;
  private final CertificateAuthority ca;
  private final LeafIssuer issuer;
  private final SniKeyManager keyManager;
  /** The engine intercepted TLS is served with; null when nothing is intercepted. */
  private final TlsEngine.Choice tls;
  private final MetricsRecorder metrics;
  private final NetClient client;
  private final ConnectHandoff handoff = new ConnectHandoff();
  private volatile int interceptPort = -1;
  /** The client behind each live intercepted connection, by the loopback port it reaches the TLS server from. */
  private final java.util.Map<Integer, String> hops = new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * @param ca pullmesh's CA, or null when nothing is intercepted
   * @throws IllegalStateException when {@code --tls-engine openssl} was asked for where BoringSSL cannot be loaded
   */
  ForwardProxy(Vertx vertx, ProxyConfig.Interception config, CertificateAuthority ca, MetricsRecorder metrics, Duration connectTimeout) {
    this.config = config;
    this.ca = ca;
    this.metrics = metrics;
    if (ca != null) {
      this.issuer = new LeafIssuer(ca, java.time.Clock.systemUTC());
      this.keyManager = new SniKeyManager(issuer, config.intercept().firstExact(), config.intercept()::matches);
      this.tls = config.tlsEngine().resolve();
      LOG.info(tls::description);
    } else {
      this.issuer = null;
      this.keyManager = null;
      this.tls = null;
    }
    this.client = vertx.createNetClient(new NetClientOptions().setConnectTimeout((int) connectTimeout.toMillis()).setTcpNoDelay(true));
  }

  CertificateAuthority ca() {
    return ca;
  }

  LeafIssuer issuer() {
    return issuer;
  }

  /** The engine intercepted TLS is served with; null when nothing is intercepted. */
  TlsEngine tlsEngine() {
    return tls == null ? null : tls.engine();
  }

  boolean intercepting() {
    return ca != null;
  }

  boolean intercepts(String host) {
    return ca != null && config.intercept().matches(host);
  }

  /**
   * The options of the TLS server intercepted connections are handed to (or spliced to, on its loopback port):
   * HTTP/1.1 only (no ALPN, so clients keep one request at a time per connection, as they do with registry.ollama.ai's
   * CDN), certificates from the SNI key manager, the TLS engine chosen at start ({@link TlsEngine}). A negative port
   * is shared by every server instance that uses it (Vert.x).
   */
  HttpServerOptions interceptServerOptions() {
    return new HttpServerOptions().setHost("127.0.0.1").setPort(-2).setSsl(true).setUseAlpn(false)
        .setKeyCertOptions(KeyCertOptions.wrap(keyManager)).setTcpNoDelay(true).setCompressionSupported(false)
        .setSslEngineOptions(tls.options());
  }

  void interceptPort(int port) {
    this.interceptPort = port;
  }

  int interceptPort() {
    return interceptPort;
  }

  /** Where intercepted connections go to the TLS server without the loopback hop. */
  ConnectHandoff handoff() {
    return handoff;
  }

  /** Answers a CONNECT: intercept, tunnel, or refuse. */
  void connect(HttpServerRequest req) {
    Target t = target(req.uri());
    if (t == null) {
      refuse(req, 400, "CONNECT needs host:port, got '" + req.uri() + "'");
      metrics.proxyConnect("bad");
      return;
    }
    boolean intercept = intercepts(t.host());
    boolean tunnel = !intercept && config.tunnel().matches(t.host());
    if (!intercept && !tunnel) {
      metrics.proxyConnect("refused");
      LOG.fine(() -> "refused CONNECT " + t + " from " + req.remoteAddress());
      refuse(req, 403, "pullmesh does not tunnel to " + t + ": it intercepts " + config.intercept()
          + " and tunnels " + config.tunnel() + " (allow more with --tunnel-hosts)");
      return;
    }
    io.vertx.core.internal.ContextInternal here = io.vertx.core.internal.ContextInternal.current();
    // HTTP/1.1 only: an HTTP/2 CONNECT is a stream of a shared connection, not a socket to hand over
    if (intercept && here != null && req.version() != io.vertx.core.http.HttpVersion.HTTP_2 && handoff.canTake(here.nettyEventLoop())) {
      req.toNetSocket().onComplete(sr -> {
        if (sr.succeeded() && handoff.take(sr.result())) {
          metrics.proxyConnect("intercepted");
        } else if (sr.succeeded()) {
          sr.result().close();
        }
      });
      return;
    }
    String host = intercept ? "127.0.0.1" : t.host();
    int port = intercept ? interceptPort : t.port();
    req.pause();
    client.connect(port, host).onComplete(ar -> {
      if (ar.failed()) {
        metrics.proxyConnect("unreachable");
        req.resume();
        refuse(req, 502, "pullmesh cannot reach " + t + ": " + ar.cause().getMessage());
        return;
      }
      NetSocket upstream = ar.result();
      int hop = intercept ? upstream.localAddress().port() : -1;
      if (intercept) {
        hops.put(hop, Exchange.peer(req));
      }
      req.toNetSocket().onComplete(sr -> {
        if (sr.failed()) {
          hops.remove(hop);
          upstream.close();
          return;
        }
        metrics.proxyConnect(intercept ? "intercepted" : "tunnelled");
        Splice.join(sr.result(), upstream, () -> hops.remove(hop));
      });
    });
  }

  /** Answers and closes the connection: after a refused CONNECT the client has nothing more to say on it. */
  static void refuse(HttpServerRequest req, int status, String message) {
    req.response().setStatusCode(status).putHeader("Content-Type", "text/plain; charset=utf-8")
        .putHeader("Connection", "close").end("pullmesh: " + message + "\n").onComplete(v -> req.connection().close());
  }

  /**
   * The client an intercepted request comes from: the peer of the CONNECT whose loopback hop it arrived on (over the
   * hop, the TLS server itself only sees 127.0.0.1); the connection's own peer for anything else, handed-off
   * connections included.
   */
  String clientOf(HttpServerRequest req) {
    // a hop comes from loopback; a handed-off connection's own port may equal a live hop's
    if (req.isSSL() && req.remoteAddress() != null && "127.0.0.1".equals(req.remoteAddress().hostAddress())) {
      String c = hops.get(req.remoteAddress().port());
      if (c != null) {
        return c;
      }
    }
    return Exchange.peer(req);
  }

  /** {@code host:port} of a CONNECT (IPv6 in brackets); null if it is not one. */
  static Target target(String authority) {
    if (authority == null || authority.isBlank()) {
      return null;
    }
    try {
      URI u = new URI("tcp://" + authority.strip());
      if (u.getHost() == null || u.getPort() <= 0 || u.getPort() > 65535 || (u.getRawPath() != null && !u.getRawPath().isEmpty())
          || u.getRawUserInfo() != null || u.getRawQuery() != null) {
        return null;
      }
      String h = u.getHost();
      if (h.startsWith("[") && h.endsWith("]")) {
        h = h.substring(1, h.length() - 1);
      }
      return new Target(h, u.getPort());
    } catch (java.net.URISyntaxException e) {
      return null;
    }
  }

  void close() {
    client.close();
  }
}
