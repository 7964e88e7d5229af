package io.pullmesh.proxy;

import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyAllocatorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.pullmesh.core.Bytes;
import io.pullmesh.core.Digest;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.fetch.DownloadManager;
import io.pullmesh.fetch.FetchConfig;
import io.pullmesh.fetch.FetchedManifest;
import io.pullmesh.fetch.NamespaceRouter;
import io.pullmesh.fetch.UpstreamRegistry;
import io.pullmesh.fetch.RegistryRouter;
import io.pullmesh.fetch.UpstreamAccess;
import io.pullmesh.metrics.MicrometerMetricsRecorder;
import io.pullmesh.store.BlobStore;
import io.pullmesh.store.CacheUnusableException;
import io.pullmesh.store.SpaceManager;
import io.pullmesh.store.eviction.DecayedFrequencyPolicy;
import io.pullmesh.mesh.Mesh;
import io.pullmesh.mesh.MeshPeers;
import io.pullmesh.mesh.PeerTokens;
import io.pullmesh.tls.CertificateAuthority;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;

/**
 * A running pullmesh node: builds the blob store, the upstream registries, the download manager and the handlers,
 * listens on its ports, joins its mesh, and stops it all again. {@link #start} returns once it listens; {@link #close}
 * stops it and releases the cache. Tests start it in-process on port 0; {@link Main} starts it from the command line.
 * Not for answering requests: {@link Routes} dispatches them to their handlers.
 */
public final class PullmeshProxy implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(PullmeshProxy.class.getName());
  /** How often the cache's disk is looked at for /healthz (full, read-only). */
  static final long HEALTH_CHECK_MS = 3_000;

  private final ProxyConfig config;
  private final Vertx vertx;
  private final PrometheusMeterRegistry registry;
  private final MicrometerMetricsRecorder metrics;
  private final BlobStore store;
  private final ExecutorService io;
  private final HeaderDeadlines deadlines;
  private final Scrubber scrubber;
  private final DownloadManager downloads;
  private final SpaceManager space;
  private final ManifestService manifests;
  private final BlobHandler blobs;
  private final BlobOrigins origins;
  private final Routes routes;
  private volatile Mesh mesh;
  private volatile PeerApi peerApi;
  private volatile MeshPeers peers;
  private final ForwardProxy forward;
  private final List<HttpServer> servers = new ArrayList<>();
  private final List<HttpServer> interceptServers = new ArrayList<>();
  private final List<HttpServer> transferServers = new ArrayList<>();
  private volatile int transferPort = ProxyConfig.NO_TRANSFER_PORT;
  private volatile boolean ready;
  private int port;

  private PullmeshProxy(ProxyConfig config, FetchConfig fetchConfig, Clock clock) {
    this.config = config;
    this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new JvmMemoryMetrics().bindTo(registry);
    new JvmGcMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    // the memory of the allocator Vert.x's sockets use (Main sets it to Netty's pooled one): netty_allocator_memory_used_bytes
    if (ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider provider) {
      new NettyAllocatorMetrics(provider).bindTo(registry);
    }
    this.metrics = new MicrometerMetricsRecorder(registry);
    this.store = BlobStore.open(config.cacheDir(), clock);
    boolean ok = false;
    try {
      this.vertx = Vertx.builder()
          .with(new VertxOptions().setMetricsOptions(new MicrometerMetricsOptions().setEnabled(true))
              .setPreferNativeTransport(config.netTransport().preferNative()))
          .withMetrics(new MicrometerMetricsFactory(registry))
          .build();
      String sockets = config.netTransport().resolved(vertx.isNativeTransportEnabled(), vertx.unavailableNativeTransportCause());
      LOG.info(() -> sockets);
      int threads = Math.max(4, 2 * Runtime.getRuntime().availableProcessors());
      this.io = Executors.newFixedThreadPool(threads, daemonThreads("pullmesh-io-"));
      this.deadlines = new HeaderDeadlines(vertx, config.headerTimeout(), config.idleTimeout());
      UpstreamRegistry upstream = new UpstreamRegistry(vertx, config.upstream(), fetchConfig,
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
      RegistryRouter router = router(config, upstream, fetchConfig, metrics, clock);
      this.downloads = new DownloadManager(vertx, router, store, space, io, metrics, fetchConfig, clock,
          () -> ThreadLocalRandom.current().nextDouble());
      Aliases aliases = new Aliases(store.catalog(), clock);
      for (String a : config.aliases()) {
        int eq = a.indexOf('=');
        aliases.put(aliases.parse(a.substring(0, eq), a.substring(eq + 1)));
      }
      this.manifests = new ManifestService(vertx, router, store.catalog(), aliases, clock, config.manifestTtl(), config.manifestMaxStale(), metrics,
          fetchConfig.userAgent());
      PullLog pulls = new PullLog(clock);
      vertx.setPeriodic(10_000, id -> pulls.sweep());
      CacheHealth health = new CacheHealth(store);
      vertx.setPeriodic(HEALTH_CHECK_MS, id -> vertx.executeBlocking(() -> health.check(), false));
      this.blobs = new BlobHandler(vertx, downloads, store, space, io, metrics, config.publicUrl(), aliases, pulls, clock, () -> transferPort);
      this.origins = new BlobOrigins(vertx, store.catalog());
      this.forward = new ForwardProxy(vertx, config.interception(), InterceptCa.load(config.interception(), clock), metrics, config.connectTimeout());
      Prefetcher prefetcher = new Prefetcher(manifests, downloads, aliases, clock);
      AdminGuard guard = new AdminGuard(config.adminToken(), AdminGuard.namesOf(config.listenHost(), config.publicUrl()));
      TrafficStats traffic = new TrafficStats(registry, metrics, () -> mesh, config.mesh() == null ? null : config.mesh().name());
      AdminApi admin = new AdminApi(vertx, store, space, manifests, aliases, prefetcher, guard, clock,
          new AdminViews(store, space, downloads, manifests, aliases, clock, traffic, Redaction.url(upstream.base())));
      this.routes = new Routes(vertx, config, new Routes.Node() {
        @Override
        public boolean ready() {
          return ready;
        }

        @Override
        public int port() {
          return port;
        }

        @Override
        public PeerApi peerApi() {
          return peerApi;
        }
      }, forward, new NamespaceRouter(router.hosts()), blobs, new ManifestHandler(manifests, origins, pulls), origins, admin,
          health::state, registry, metrics, fetchConfig.via());
      this.scrubber = new Scrubber(store, space::inUse, metrics, config.scrubInterval(), config.scrubRate(), this::lost,
          task -> vertx.executeBlocking(() -> {
            task.run();
            return null;
          }, false));
      downloads.onCommitted(scrubber::trust);
      metrics.cacheWritable(() -> health.state().writable());
      metrics.gauges(downloads::activeCount, store::committedBytes, store::committedBlobs);
      metrics.cacheLimit(space::limit);
      metrics.downloadFlow(downloads::upstreamRateLimit, downloads::upstreamRate, downloads::bufferHeld, downloads::bufferLimit);
      space.enforce();
      ok = true;
    } finally {
      if (!ok) {
        store.close();
      }
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
   * As {@link #start(ProxyConfig)} with explicit fetcher settings and clock (tests). The User-Agent, the upstream cap
   * and the download buffer memory are the configuration's ({@code --user-agent}, {@code --upstream-rate},
   * {@code --download-buffer-memory}), whatever {@code fetchConfig} says.
   */
  public static PullmeshProxy start(ProxyConfig config, FetchConfig fetchConfig, Clock clock) {
    String via = "pullmesh-" + Long.toHexString(new java.security.SecureRandom().nextLong() & 0xffffffffffffL);
    PullmeshProxy p = new PullmeshProxy(config, fetchConfig.withUserAgent(config.userAgent()).withVia(via)
        .withUpstreamRate(config.upstreamRate()).withBufferMemory(config.downloadBufferMemory()), clock);
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
          HttpServer s = server(options, routes::handle, "client", servers);
          Future<?> transfer = Future.succeededFuture();
          if (config.transferPort() != ProxyConfig.NO_TRANSFER_PORT) {
            transfer = server(new HttpServerOptions(options).setPort(config.transferPort() == 0 ? -3 : config.transferPort()),
                routes::handleTransfer, "transfer", transferServers).listen();
          }
          if (!forward.intercepting()) {
            return transfer.compose(x -> s.listen());
          }
          HttpServer tls = server(forward.interceptServerOptions().setIdleTimeout((int) config.idleTimeout().toSeconds())
              .setIdleTimeoutUnit(TimeUnit.SECONDS), routes::handleIntercepted, "intercepted", interceptServers);
          return transfer.compose(x -> tls.listen()).onSuccess(x -> {
            if (!forward.handoff().register(tls, ((io.vertx.core.internal.ContextInternal) context).nettyEventLoop())) {
              LOG.warning("intercepted connections on this event loop reach the TLS server over a loopback hop: handoff "
                  + java.util.Objects.requireNonNullElse(ConnectHandoff.unavailable(), "not possible for this server instance"));
            }
          }).compose(x -> s.listen());
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
          if (!routes.cameBack(req)) {
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
   * Joins the LAN mesh: serves committed blobs to peers on /mesh/v1/blobs/, announces every blob the cache holds
   * and each one committed from now on, withdraws each evicted one. Blocks until joined (up to 60 s).
   */
  private void joinMesh(ProxyConfig.MeshSettings s, FetchConfig fetchConfig, Clock clock) {
    String dataUrl = config.publicUrl() != null ? config.publicUrl().toString().replaceAll("/+$", "")
        : "http://" + (s.bindHost().contains(":") ? "[" + s.bindHost() + "]" : s.bindHost()) + ":" + port;
    PeerTokens tokens = new PeerTokens(s.secret(), clock, java.time.Duration.ofMinutes(5));
    peerApi = new PeerApi(vertx, tokens, scrubber::verifiedForPeer, downloads::active, blobs::serveSource, (repo, reference) -> {
      if (Digest.isValid(reference)) {
        return store.catalog().manifest(Digest.parse(reference));
      }
      return store.catalog().tag(RepositoryName.parse(repo), reference).flatMap(t -> store.catalog().manifest(t.digest()));
    }, metrics);
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

  /** Intercepted connections handed to the TLS server without a loopback hop, so far. */
  long interceptHandoffs() {
    return forward.handoff().handedOff();
  }

  /** The engine intercepted TLS is served with, or null when interception is off. */
  TlsEngine tlsEngine() {
    return forward.tlsEngine();
  }

  /** pullmesh's CA, or null when interception is off. */
  public CertificateAuthority ca() {
    return forward.ca();
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
