package io.pullmesh.proxy;

import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.pullmesh.core.Bytes;
import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RegistryRoute;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.fetch.DownloadManager;
import io.pullmesh.fetch.FetchConfig;
import io.pullmesh.fetch.FetchedManifest;
import io.pullmesh.fetch.UpstreamRegistry;
import io.pullmesh.fetch.RegistryRouter;
import io.pullmesh.fetch.UpstreamAccess;
import io.pullmesh.metrics.MeterNames;
import io.pullmesh.metrics.MicrometerMetricsRecorder;
import io.pullmesh.store.BlobStore;
import io.pullmesh.store.CacheUnusableException;
import io.pullmesh.store.ManifestRecord;
import io.pullmesh.store.SpaceManager;
import io.pullmesh.store.eviction.DecayedFrequencyPolicy;
import io.pullmesh.mesh.Mesh;
import io.pullmesh.mesh.MeshPeers;
import io.pullmesh.mesh.PeerBlobServer;
import io.pullmesh.mesh.PeerTokens;
import io.pullmesh.tls.CertificateAuthority;
import io.pullmesh.tls.TlsSetupException;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;

/**
 * A running pullmesh proxy: the registry API on one port, backed by the blob store, the upstream registry and
 * the download manager. {@link #start} returns once it listens; {@link #close} stops it and releases the
 * cache. Tests start it in-process on port 0; {@link Main} starts it from the command line.
 */
public final class PullmeshProxy implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(PullmeshProxy.class.getName());
  private static final Buffer STATUS_PAGE = loadStatusPage();
  /** How often the cache's disk is looked at for /healthz (full, read-only). */
  static final long HEALTH_CHECK_MS = 3_000;

  private final ProxyConfig config;
  private final Vertx vertx;
  private final PrometheusMeterRegistry registry;
  private final MicrometerMetricsRecorder metrics;
  private final BlobStore store;
  private final ExecutorService io;
  private final UpstreamRegistry upstream;
  private final RegistryRouter router;
  private final HeaderDeadlines deadlines;
  private final Scrubber scrubber;
  private final CacheHealth health;
  /** This node's token in the Via header of its upstream requests, or null. */
  private final String via;
  private final DownloadManager downloads;
  private final Aliases aliases;
  private final SpaceManager space;
  private final AdminApi admin;
  private final ManifestService manifests;
  private final BlobHandler blobs;
  private final BlobOrigins origins;
  private final PullLog pulls;
  private volatile Mesh mesh;
  private volatile PeerBlobServer peerServer;
  private volatile MeshPeers peers;
  private volatile PeerTokens peerTokens;
  private final ForwardProxy forward;
  private final List<HttpServer> servers = new ArrayList<>();
  private final List<HttpServer> interceptServers = new ArrayList<>();
  private final List<HttpServer> transferServers = new ArrayList<>();
  private volatile int transferPort = ProxyConfig.NO_TRANSFER_PORT;
  private volatile boolean ready;
  private int port;

  private PullmeshProxy(ProxyConfig config, FetchConfig fetchConfig, Clock clock) {
    this.config = config;
    this.via = fetchConfig.via();
    this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new JvmMemoryMetrics().bindTo(registry);
    new JvmGcMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    this.metrics = new MicrometerMetricsRecorder(registry);
    this.store = BlobStore.open(config.cacheDir(), clock);
    boolean ok = false;
    try {
      this.vertx = Vertx.builder()
          .with(new VertxOptions().setMetricsOptions(new MicrometerMetricsOptions().setEnabled(true)))
          .withMetrics(new MicrometerMetricsFactory(registry))
          .build();
      int threads = Math.max(4, 2 * Runtime.getRuntime().availableProcessors());
      this.io = Executors.newFixedThreadPool(threads, daemonThreads("pullmesh-io-"));
      this.deadlines = new HeaderDeadlines(vertx, config.headerTimeout(), config.idleTimeout());
      this.upstream = new UpstreamRegistry(vertx, config.upstream(), fetchConfig,
          UpstreamAccess.of(config.upstream().getHost(), config.upstreamCredentials()), metrics, clock, config.upstreamTransport());
      long totalSpace = totalSpace(store.root());
      if (config.cacheLimit().resolve(totalSpace) > totalSpace) {
        LOG.warning(() -> "--cache-max-bytes " + config.cacheLimit() + " is more than the disk holding " + store.root() + " ("
            + Bytes.human(totalSpace) + "): the disk's size is the limit");
      }
      this.space = new SpaceManager(store, DecayedFrequencyPolicy.withDefaults(),
          () -> Math.min(config.cacheLimit().resolve(totalSpace), totalSpace), clock,
          (e, reason) -> {
            metrics.eviction(reason, e.bytes());
            Mesh m = mesh;
            if (m != null) {
              m.withdraw(e.digest());
            }
          });
      this.router = router(config, upstream, fetchConfig, metrics, clock);
      this.downloads = new DownloadManager(vertx, router, store, space, io, metrics, fetchConfig, clock,
          () -> ThreadLocalRandom.current().nextDouble());
      this.aliases = new Aliases(store.catalog(), clock);
      for (String a : config.aliases()) {
        int eq = a.indexOf('=');
        aliases.put(aliases.parse(a.substring(0, eq), a.substring(eq + 1)));
      }
      this.manifests = new ManifestService(vertx, router, store.catalog(), aliases, clock, config.manifestTtl(), metrics, fetchConfig.userAgent());
      this.pulls = new PullLog(clock);
      vertx.setPeriodic(10_000, id -> pulls.sweep());
      this.health = new CacheHealth(store);
      vertx.setPeriodic(HEALTH_CHECK_MS, id -> vertx.executeBlocking(() -> health.check(), false));
      this.blobs = new BlobHandler(vertx, downloads, store, space, io, metrics, config.publicUrl(), aliases, pulls, clock, () -> transferPort);
      this.origins = new BlobOrigins(vertx, store.catalog());
      this.forward = new ForwardProxy(vertx, config.interception(), loadCa(config.interception(), clock), metrics, config.connectTimeout());
      Prefetcher prefetcher = new Prefetcher(manifests, downloads, aliases, clock);
      AdminGuard guard = new AdminGuard(config.adminToken(), AdminGuard.namesOf(config.listenHost(), config.publicUrl()));
      TrafficStats traffic = new TrafficStats(registry, metrics, () -> mesh, config.mesh() == null ? null : config.mesh().name());
      this.admin = new AdminApi(vertx, store, space, manifests, aliases, prefetcher, guard, clock,
          new AdminViews(store, space, downloads, manifests, aliases, clock, traffic, Redaction.url(upstream.base())));
      this.scrubber = new Scrubber(store, space::inUse, metrics, config.scrubInterval(), config.scrubRate(), this::lost);
      downloads.onCommitted(scrubber::trust);
      metrics.cacheWritable(() -> health.state().writable());
      metrics.gauges(downloads::activeCount, store::committedBytes, store::committedBlobs);
      metrics.cacheLimit(space::limit);
      space.enforce();
      ok = true;
    } finally {
      if (!ok) {
        store.close();
      }
    }
  }

  private static Buffer loadStatusPage() {
    try (java.io.InputStream in = PullmeshProxy.class.getResourceAsStream("status.html")) {
      if (in == null) {
        throw new IllegalStateException("status.html is missing from the jar");
      }
      return Buffer.buffer(in.readAllBytes());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * The default upstream for every repository, except those in a namespace given its own with --upstreams (that
   * registry, under the namespace it maps to) and those qualified by a registry host (hf.co/..., modelscope.cn/...: that
   * host's registry, built in or given with --upstreams).
   */
  private RegistryRouter router(ProxyConfig config, UpstreamRegistry main, FetchConfig fetchConfig, MicrometerMetricsRecorder metrics,
      Clock clock) {
    RegistryRouter.Builder b = RegistryRouter.builder(main);
    for (ProxyConfig.NamedUpstream u : config.upstreams()) {
      if (!u.isHost()) {
        b.namespace(u.namespace(), upstream(u, u.url().getHost(), fetchConfig, metrics, clock), u.remoteNamespace());
      }
    }
    for (ProxyConfig.NamedUpstream u : config.registryHosts()) {
      b.host(u.namespace(), upstream(u, u.namespace(), fetchConfig, metrics, clock));
    }
    return b.build();
  }

  private UpstreamRegistry upstream(ProxyConfig.NamedUpstream u, String label, FetchConfig fetchConfig, MicrometerMetricsRecorder metrics,
      Clock clock) {
    return new UpstreamRegistry(vertx, u.url(), fetchConfig, new UpstreamAccess(label, u.ownHosts(), u.credentials(), u.bearerToken()),
        metrics, clock, config.upstreamTransport());
  }

  /** pullmesh's CA, created on first start; null when nothing is intercepted. */
  private static CertificateAuthority loadCa(ProxyConfig.Interception interception, Clock clock) {
    if (!interception.enabled()) {
      return null;
    }
    try {
      CertificateAuthority ca = CertificateAuthority.loadOrCreate(interception.caDir(), nodeName(System.getenv()), interception.keyAlgorithm(), clock);
      if (ca.createdNow()) {
        LOG.info(() -> "created pullmesh's CA " + ca.certificateFile() + " (SHA-256 " + ca.fingerprintSha256()
            + "): clients that pull through HTTPS_PROXY must trust it (docs/interception.md)");
      }
      return ca;
    } catch (java.io.IOException | TlsSetupException e) {
      throw new IllegalStateException("pullmesh's CA in " + interception.caDir() + ": " + e.getMessage()
          + " (or turn interception off with --intercept-hosts none)", e);
    }
  }

  /** This machine's name for the CA's subject: $HOSTNAME, else the resolver's, else "pullmesh"; at most 40 characters. */
  public static String nodeName(java.util.Map<String, String> env) {
    String h = env.get("HOSTNAME");
    if (h == null || h.isBlank()) {
      try {
        h = java.net.InetAddress.getLocalHost().getHostName();
      } catch (java.io.IOException e) {
        h = "pullmesh";
      }
    }
    return h.length() > 40 ? h.substring(0, 40) : h;
  }

  private static long totalSpace(java.nio.file.Path dir) {
    try {
      return java.nio.file.Files.getFileStore(dir).getTotalSpace();
    } catch (java.io.IOException e) {
      throw new CacheUnusableException("cannot read the size of the disk holding " + dir + ": " + e.getMessage(), e);
    }
  }

  private static ThreadFactory daemonThreads(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  /**
   * Opens the cache and starts listening.
   *
   * @throws CacheUnusableException when the cache dir cannot be used
   * @throws IllegalStateException when the address cannot be listened on (message says which and why)
   */
  public static PullmeshProxy start(ProxyConfig config) {
    return start(config, config.fetchConfig(), Clock.systemUTC());
  }

  /**
   * As {@link #start(ProxyConfig)} with explicit fetcher settings and clock (tests). The User-Agent is the
   * configuration's ({@code --user-agent}), whatever {@code fetchConfig} says.
   */
  public static PullmeshProxy start(ProxyConfig config, FetchConfig fetchConfig, Clock clock) {
    String via = "pullmesh-" + Long.toHexString(new java.security.SecureRandom().nextLong() & 0xffffffffffffL);
    PullmeshProxy p = new PullmeshProxy(config, fetchConfig.withUserAgent(config.userAgent()).withVia(via), clock);
    try {
      p.listen();
    } catch (RuntimeException e) {
      p.close();
      throw e;
    }
    if (config.mesh() != null) {
      try {
        p.joinMesh(config.mesh(), fetchConfig, clock);
      } catch (RuntimeException e) {
        p.close();
        throw e;
      }
    }
    p.scrubber.start();
    int resumed = p.downloads.resumePending();
    if (resumed > 0) {
      LOG.info(() -> "resumed " + resumed + " unfinished download(s) from the previous run");
    }
    return p;
  }

  private void listen() {
    int instances = Math.max(2, Runtime.getRuntime().availableProcessors());
    // port 0 means "any free port": Vert.x shares one random port among instances that listen on the same negative port
    int bindPort = config.listenPort() == 0 ? -1 : config.listenPort();
    String where = config.listenHost() + ":" + config.listenPort()
        + (config.transferPort() == ProxyConfig.NO_TRANSFER_PORT ? "" : " (and --transfer-port " + config.transferPort() + ")");
    HttpServerOptions options = new HttpServerOptions().setHost(config.listenHost()).setPort(bindPort)
        .setTcpNoDelay(true).setCompressionSupported(false)
        .setIdleTimeout((int) config.idleTimeout().toSeconds()).setIdleTimeoutUnit(TimeUnit.SECONDS);
    try {
      // one deployment, several instances: each runs on its own event loop and Vert.x spreads the connections
      // to the shared address across them (port 0 resolves to one ephemeral port for all)
      vertx.deployVerticle(() -> new io.vertx.core.VerticleBase() {
        @Override
        public Future<?> start() {
          HttpServer s = server(options, PullmeshProxy.this::handle, "client", servers);
          Future<?> transfer = Future.succeededFuture();
          if (config.transferPort() != ProxyConfig.NO_TRANSFER_PORT) {
            transfer = server(new HttpServerOptions(options).setPort(config.transferPort() == 0 ? -3 : config.transferPort()),
                PullmeshProxy.this::handleTransfer, "transfer", transferServers).listen();
          }
          if (!forward.intercepting()) {
            return transfer.compose(x -> s.listen());
          }
          HttpServer tls = server(forward.interceptServerOptions().setIdleTimeout((int) config.idleTimeout().toSeconds())
              .setIdleTimeoutUnit(TimeUnit.SECONDS), PullmeshProxy.this::handleIntercepted, "intercepted", interceptServers);
          return transfer.compose(x -> tls.listen()).compose(x -> s.listen());
        }
      }, new DeploymentOptions().setInstances(instances)).toCompletionStage().toCompletableFuture().get();
    } catch (ExecutionException | InterruptedException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      throw new IllegalStateException("cannot listen on " + where + ": " + cause.getMessage()
          + " (choose another address with --listen" + (config.transferPort() == ProxyConfig.NO_TRANSFER_PORT ? "" : ", another --transfer-port or none")
          + ")", cause);
    }
    synchronized (servers) {
      port = servers.get(0).actualPort();
      for (HttpServer s : servers) {
        if (s.actualPort() != port) {
          throw new IllegalStateException("server instances listen on different ports: " + port + " and " + s.actualPort());
        }
      }
    }
    synchronized (interceptServers) {
      if (!interceptServers.isEmpty()) {
        forward.interceptPort(interceptServers.get(0).actualPort());
      }
    }
    synchronized (transferServers) {
      if (!transferServers.isEmpty()) {
        transferPort = transferServers.get(0).actualPort();
      }
    }
    ready = true;
  }

  /**
   * One instance's server, kept in {@code into} (for its port): each connection and each request under the header
   * deadlines, a request that came back to this node refused before {@code handler} sees it, and a client hanging up
   * mid-body logged at debug level, not Vert.x's default ERROR (routine: Ollama hangs up after the headers of its
   * URL-resolution GET).
   */
  private HttpServer server(HttpServerOptions options, Handler<HttpServerRequest> handler, String kind, List<HttpServer> into) {
    HttpServer s = vertx.createHttpServer(options)
        .requestHandler(req -> {
          deadlines.headersRead(req);
          if (!cameBack(req)) {
            handler.handle(req);
          }
        })
        .connectionHandler(c -> {
          deadlines.connected(c);
          c.exceptionHandler(t -> LOG.fine(() -> kind + " connection " + c.remoteAddress() + ": " + t));
        })
        .exceptionHandler(t -> LOG.fine(() -> kind + " connection: " + t));
    synchronized (into) {
      into.add(s);
    }
    return s;
  }

  public int port() {
    return port;
  }

  /** The port x/transfer clients are redirected to for blob bodies, or {@link ProxyConfig#NO_TRANSFER_PORT}. */
  public int transferPort() {
    return transferPort;
  }

  /**
   * Answers 508 to a request this node itself sent upstream (its token in {@code Via}): an upstream that redirects a blob
   * to pullmesh, or two nodes configured as each other's upstream, would otherwise have the node wait on itself until a
   * timeout (issue 18).
   */
  private boolean cameBack(HttpServerRequest req) {
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
  private void handleTransfer(HttpServerRequest req) {
    long started = System.nanoTime();
    Exchange ex = Exchange.onTransferPort(req);
    HttpServerResponse resp = req.response();
    ex.onDone(() -> metrics.httpRequest("transfer-" + routeTag(req.path()), req.method().name(), resp.getStatusCode(), System.nanoTime() - started));
    try {
      if (!req.path().startsWith("/v2/")) {
        throw new RegistryException(ErrorCode.NOT_FOUND, "this port serves blobs to Ollama's x/transfer downloader only: /v2/<name>/blobs/<digest>");
      }
      serveRegistry(ex, req.path(), null);
    } catch (RegistryException e) {
      Responses.error(resp, e, req.method() == HttpMethod.HEAD);
    } catch (RuntimeException e) {
      Responses.error(resp, new RegistryException(ErrorCode.INTERNAL_ERROR, e.toString(), e), req.method() == HttpMethod.HEAD);
    }
  }

  /**
   * Joins the LAN mesh: serves committed blobs to peers on /mesh/v1/blobs/, announces every blob the cache holds
   * and each one committed from now on, withdraws each evicted one. Blocks until joined (up to 60 s).
   */
  private void joinMesh(ProxyConfig.MeshSettings s, FetchConfig fetchConfig, Clock clock) {
    String dataUrl = config.publicUrl() != null ? config.publicUrl().toString().replaceAll("/+$", "")
        : "http://" + (s.bindHost().contains(":") ? "[" + s.bindHost() + "]" : s.bindHost()) + ":" + port;
    PeerTokens tokens = new PeerTokens(s.secret(), clock, java.time.Duration.ofMinutes(5));
    peerTokens = tokens;
    // a committed blob is re-hashed once before this node first serves it to a peer: bit rot must not spread
    peerServer = new PeerBlobServer(vertx, tokens, scrubber::verifiedForPeer, (r, d) -> false, metrics);
    try {
      mesh = Mesh.join(new Mesh.Settings(s.name(), s.secret(), s.bindHost(), s.port(), s.members(), dataUrl))
          .toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (ExecutionException | InterruptedException | java.util.concurrent.TimeoutException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      throw new IllegalStateException("cannot join the mesh " + s.name() + " on " + s.bindHost() + ":" + s.port() + ": " + cause.getMessage()
          + " (check --mesh-bind, --mesh-port and --mesh-members)", cause);
    }
    Mesh m = mesh;
    peers = new MeshPeers(vertx, m, tokens, clock, fetchConfig.connectTimeout(), fetchConfig.stallTimeout());
    downloads.usePeers(peers);
    MeshPeers mp = peers;
    manifests.usePeers((repo, reference) -> mp.manifest(repo.toString(), reference)
        .map(pm -> new FetchedManifest(pm.bytes(), pm.contentType(), pm.digest())));
    metrics.meshPeers(() -> Math.max(0, m.members().size() - 1));
    for (io.pullmesh.store.BlobRecord r : store.blobs()) {
      m.announce(r.digest(), r.size());
    }
  }

  /**
   * {@code GET /mesh/v1/manifests/<repository>/<tag|digest>}: a manifest from this node's cache, for a peer that cannot
   * reach upstream. Never goes upstream itself; a peer token for that very name is required.
   */
  private void servePeerManifest(HttpServerRequest req, String rest) {
    HttpServerResponse resp = req.response();
    PeerTokens tokens = peerTokens;
    int slash = rest.lastIndexOf('/');
    if (tokens == null || slash <= 0) {
      throw new RegistryException(ErrorCode.NOT_FOUND, tokens == null ? "this node is not in a mesh (--mesh-name)" : "expected /mesh/v1/manifests/<repository>/<tag or digest>");
    }
    String repo = rest.substring(0, slash);
    String reference = rest.substring(slash + 1);
    try {
      tokens.verify(String.valueOf(req.getHeader("Authorization")), MeshPeers.manifestKey(repo, reference));
    } catch (SecurityException e) {
      LOG.warning(() -> "refused a peer manifest request from " + req.remoteAddress() + ": " + e.getMessage());
      throw new RegistryException(ErrorCode.DENIED, e.getMessage());
    }
    vertx.executeBlocking(() -> {
      if (Digest.isValid(reference)) {
        return store.catalog().manifest(Digest.parse(reference));
      }
      return store.catalog().tag(RepositoryName.parse(repo), reference).flatMap(t -> store.catalog().manifest(t.digest()));
    }, false).onComplete(ar -> {
      if (ar.failed() || ar.result().isEmpty()) {
        Responses.error(resp, new RegistryException(ErrorCode.MANIFEST_UNKNOWN, "this node has no " + repo + ":" + reference + " in its cache"), false);
        return;
      }
      ManifestRecord m = ar.result().get();
      resp.putHeader("Content-Type", m.contentType()).putHeader("Docker-Content-Digest", m.digest().toString())
          .end(Buffer.buffer(m.bytes()));
    });
  }

  /**
   * A committed blob the scrub found corrupt (and quarantined): no longer announced to the mesh, and fetched again in
   * the background when a cached model names it.
   */
  private void lost(Digest d) {
    Mesh m = mesh;
    if (m != null) {
      m.withdraw(d);
    }
    vertx.runOnContext(v -> origins.find(d).onSuccess(repo -> repo.ifPresent(r -> downloads.open(r, d).onSuccess(found -> {
      if (found instanceof DownloadManager.Lookup.InFlight f) {
        f.reader().close(); // nobody reads through it: the download goes on by itself
        LOG.info(() -> "fetching " + d + " again after the scrub found it corrupt");
      }
    }))));
  }

  /** The background re-hash of committed blobs (tests run a pass on demand). */
  Scrubber scrubber() {
    return scrubber;
  }

  /** This node's view of its peers as piece sources, or null when it runs alone. */
  public MeshPeers peers() {
    return peers;
  }

  /** This node's mesh membership, or null when it runs alone. */
  public Mesh mesh() {
    return mesh;
  }

  /** {@code http://<listen host>:<port>}, with 127.0.0.1 for a wildcard host. */
  public String url() {
    String h = config.listenHost();
    if (h.equals("0.0.0.0") || h.equals("::")) {
      h = "127.0.0.1";
    }
    return "http://" + (h.contains(":") ? "[" + h + "]" : h) + ":" + port;
  }

  public PrometheusMeterRegistry meterRegistry() {
    return registry;
  }

  public BlobStore store() {
    return store;
  }

  public SpaceManager space() {
    return space;
  }

  public DownloadManager downloads() {
    return downloads;
  }

  public Vertx vertx() {
    return vertx;
  }

  /** pullmesh's CA, or null when interception is off. */
  public CertificateAuthority ca() {
    return forward.ca();
  }

  // ---------------------------------------------------------------- dispatch

  private void handle(HttpServerRequest req) {
    if (req.method() == HttpMethod.CONNECT) {
      forward.connect(req);
      return;
    }
    String uri = req.uri();
    if (!uri.startsWith("/") && !uri.equals("*")) {
      // absolute form (GET http://host/path): a client using this node as its HTTP proxy
      java.net.URI target = absoluteTarget(uri);
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
  private static java.net.URI absoluteTarget(String uri) {
    try {
      java.net.URI u = new java.net.URI(uri);
      return "http".equalsIgnoreCase(u.getScheme()) || "https".equalsIgnoreCase(u.getScheme()) ? u : null;
    } catch (java.net.URISyntaxException e) {
      return null;
    }
  }

  /** Whether an absolute-form request names this node itself (its port, on a loopback or the listen address). */
  private boolean isThisNode(HttpServerRequest req, java.net.URI u) {
    int p = u.getPort() > 0 ? u.getPort() : ("https".equalsIgnoreCase(u.getScheme()) ? 443 : 80);
    if (p != port) {
      return false;
    }
    String h = u.getHost();
    String literal = h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
    // an IP literal on loopback, not any name that starts with "127." (issue 18: http://127.evil.example/ was taken for this node)
    return h.equalsIgnoreCase("localhost") || AdminGuard.isLoopback(literal) || h.equals(config.listenHost())
        || (req.localAddress() != null && literal.equals(req.localAddress().hostAddress()));
  }

  /** A request that reached this node's loopback TLS server through an intercepted CONNECT. */
  private void handleIntercepted(HttpServerRequest req) {
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
   * Answers a request for an intercepted host from the cache: the registry API (from the configured upstream)
   * and blob URLs in the registry's storage layout (the presigned CDN URLs registry.ollama.ai redirects to; the
   * signature is ignored, the digest is the key). Nothing else: no admin API, no metrics.
   */
  private void serveAs(HttpServerRequest req, String host) {
    long started = System.nanoTime();
    Exchange ex = new Exchange(req, true, forward.clientOf(req));
    HttpServerResponse resp = req.response();
    String path = req.path();
    String routeTag = routeTag(path);
    ex.onDone(() -> metrics.httpRequest("intercepted-" + routeTag, req.method().name(), resp.getStatusCode(), System.nanoTime() - started));
    try {
      if (path.startsWith("/v2/") || path.equals("/v2")) {
        // a registry host routed here (hf.co, modelscope.cn) keys its names with the host; registry.ollama.ai's stay bare
        serveRegistry(ex, path, router.routesHost(host) ? host.toLowerCase(java.util.Locale.ROOT) : null);
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
          Responses.error(resp, new RegistryException(ErrorCode.BLOB_UNKNOWN, "pullmesh does not know which model " + d
              + " belongs to: pull its manifest through pullmesh first"), req.method() == HttpMethod.HEAD);
          return;
        }
        blobs.handle(ex, new RegistryRoute.Blob(ar.result().get(), d));
      });
    } catch (RegistryException e) {
      Responses.error(resp, e, req.method() == HttpMethod.HEAD);
    } catch (RuntimeException e) {
      Responses.error(resp, new RegistryException(ErrorCode.INTERNAL_ERROR, e.toString(), e), req.method() == HttpMethod.HEAD);
    }
  }

  private void serveLocal(HttpServerRequest req) {
    long started = System.nanoTime();
    Exchange ex = new Exchange(req);
    HttpServerResponse resp = req.response();
    String path = req.path();
    String routeTag = routeTag(path);
    ex.onDone(() -> metrics.httpRequest(routeTag, req.method().name(), resp.getStatusCode(), System.nanoTime() - started));
    try {
      switch (path) {
        case "/healthz" -> {
          resp.putHeader("Content-Type", "text/plain; charset=utf-8");
          CacheHealth.State h = health.state();
          if (!ready) {
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
      if (path.startsWith(MeshPeers.MANIFESTS)) {
        servePeerManifest(req, path.substring(MeshPeers.MANIFESTS.length()));
        return;
      }
      if (PeerBlobServer.handles(path)) {
        PeerBlobServer peers = peerServer;
        if (peers == null) {
          throw new RegistryException(ErrorCode.NOT_FOUND, "this node is not in a mesh (--mesh-name)");
        }
        peers.handle(req, (r, d) -> blobs.servePartialToPeer(ex, d));
        return;
      }
      if (path.equals("/ca.crt") && forward.intercepting()) {
        resp.putHeader("Content-Type", "application/x-pem-file")
            .putHeader("Content-Disposition", "attachment; filename=\"pullmesh-ca.crt\"")
            .end(forward.ca().certificatePem());
        return;
      }
      serveRegistry(ex, path, null);
    } catch (RegistryException e) {
      Responses.error(resp, e, req.method() == HttpMethod.HEAD);
    } catch (RuntimeException e) {
      Responses.error(resp, new RegistryException(ErrorCode.INTERNAL_ERROR, e.toString(), e), req.method() == HttpMethod.HEAD);
    }
  }

  /**
   * The registry API: /v2/, manifests, blobs. Throws RegistryException for what it cannot answer.
   *
   * @param registryHost the registry host the request was made to through HTTPS_PROXY when that host has a registry of
   *     its own here: names are taken as qualified by it ({@code /v2/user/Repo/...} at hf.co is {@code hf.co/user/Repo});
   *     null for requests by name
   */
  private void serveRegistry(Exchange ex, String path, String registryHost) {
    HttpServerRequest req = ex.request;
    HttpServerResponse resp = req.response();
    {
      RegistryRoute route = qualified(RegistryRoute.parse(path), registryHost);
      if (route == null) {
        throw new RegistryException(ErrorCode.NOT_FOUND, "no such path on pullmesh: " + path);
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
        serveManifest(ex, m);
      } else if (route instanceof RegistryRoute.Blob b) {
        blobs.handle(ex, b);
      } else {
        throw new RegistryException(ErrorCode.NAME_UNKNOWN, "pullmesh does not mirror tag listings");
      }
    }
  }

  private static RegistryRoute qualified(RegistryRoute route, String host) {
    if (host == null) {
      return route;
    }
    try {
      if (route instanceof RegistryRoute.Manifest m) {
        return new RegistryRoute.Manifest(RepositoryName.parse(host + "/" + m.name().spelled()), m.reference());
      }
      if (route instanceof RegistryRoute.Blob b) {
        return new RegistryRoute.Blob(RepositoryName.parse(host + "/" + b.name().spelled()), b.digest());
      }
    } catch (IllegalArgumentException e) {
      throw new RegistryException(ErrorCode.NAME_INVALID, e.getMessage());
    }
    return route;
  }

  private static String hostOf(HttpServerRequest req) {
    return req.authority() == null ? "localhost:9200" : req.authority().toString();
  }

  private static String routeTag(String path) {
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
      default -> path.startsWith(PeerBlobServer.PREFIX) ? "peer" : "other";
    };
  }

  private void serveManifest(Exchange ex, RegistryRoute.Manifest m) {
    HttpServerRequest req = ex.request;
    HttpServerResponse resp = req.response();
    boolean head = req.method() == HttpMethod.HEAD;
    manifests.get(m.name(), m.reference(), ex.upstreamAgent()).onComplete(ar -> {
      if (ar.failed()) {
        Responses.error(resp, ar.cause(), head);
        return;
      }
      ManifestService.Result r = ar.result();
      origins.served(m.name(), r.manifest());
      if (!head) {
        Map<Digest, Long> sizes = new java.util.HashMap<>();
        for (ManifestService.Descriptor d : ManifestService.descriptors(r.manifest().bytes())) {
          sizes.put(d.digest(), d.size());
        }
        String sep = m.reference().isDigest() ? "@" : ":";
        pulls.manifestServed(ex.client, m.name() + sep + m.reference(), sizes);
      }
      resp.putHeader("Content-Type", r.manifest().contentType())
          .putHeader("Content-Length", Integer.toString(r.manifest().bytes().length))
          .putHeader("Docker-Content-Digest", r.manifest().digest().toString())
          .putHeader("ETag", "\"" + r.manifest().digest() + "\"")
          .putHeader("X-Pullmesh-Cache", r.cache());
      if (r.warning() != null) {
        resp.putHeader("Warning", "110 pullmesh \"stale: upstream unavailable\"");
      }
      if (head) {
        resp.end();
      } else {
        resp.end(Buffer.buffer(r.manifest().bytes()));
      }
    });
  }

  private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

  /** Stops serving and releases the cache; a second call does nothing. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    ready = false;
    MeshPeers mp = peers;
    if (mp != null) {
      downloads.usePeers(null);
      mp.close();
    }
    Mesh m = mesh;
    if (m != null) {
      m.close();
    }
    if (scrubber != null) {
      scrubber.close();
    }
    if (downloads != null) {
      downloads.persistAll();
    }
    try {
      if (vertx != null) {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      }
    } catch (Exception e) {
      LOG.warning(() -> "closing Vert.x: " + e);
    }
    if (io != null) {
      io.shutdownNow();
      try {
        io.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    store.close();
    registry.close();
  }
}
