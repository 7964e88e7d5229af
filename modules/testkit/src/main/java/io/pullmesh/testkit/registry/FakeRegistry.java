package io.pullmesh.testkit.registry;

import io.pullmesh.core.Digest;
import io.pullmesh.testkit.fault.FaultPlan;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.throttle.Ticker;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A fake registry.ollama.ai and its Cloudflare R2 CDN: two Vert.x HTTP servers, the registry on
 * {@code 127.0.0.1:<ephemeral>} and the CDN on {@code 127.0.0.2:<ephemeral>} (loopback on Linux, and a
 * different host name, which matters to Ollama's redirect logic). 127.0.0.2 answers on Linux out of the box;
 * macOS needs {@code sudo ifconfig lo0 alias 127.0.0.2} (or {@link Builder#cdnHost} another address). The Hugging
 * Face and ModelScope flavours add a third server, the hub, on {@code 127.0.0.3:<ephemeral>} (see below).
 *
 * <h2>Registry (the real one's quirks)</h2>
 * <ul>
 *   <li>{@code GET /v2/} and {@code /v2/<name>/tags/list}: 404 (no ping, no tag list).
 *   <li>{@code GET|HEAD /v2/<name>/manifests/<tag|digest>}: 200, {@code Content-Type: text/plain;
 *       charset=utf-8}, body chunked with no {@code Content-Length}; unknown: 404 {@code MANIFEST_UNKNOWN}.
 *   <li>{@code GET /v2/<name>/blobs/<digest>}: 307 (see {@link Builder#redirectStatus}) to a presigned CDN URL,
 *       {@code http://127.0.0.2:<port>/ollama/docker/registry/v2/blobs/sha256/<2 hex>/<hex>/data?X-Amz-...};
 *       unknown: 404 {@code BLOB_UNKNOWN}. In {@linkplain Builder#directMode direct mode} the registry serves
 *       the blob itself (200/206, registry faults and throttle apply), like a registry without a CDN.
 *   <li>{@code HEAD /v2/<name>/blobs/<digest>}: 200 with {@code Content-Length}, or the same 307 as GET with
 *       {@link Builder#headRedirects}.
 *   <li>Bearer auth, off by default ({@link Builder#requireAuth}): without a valid token, manifest and blob
 *       requests get 401 with {@code WWW-Authenticate: Bearer realm="<registryUrl>/token",
 *       service="fake-registry",scope="repository:<name>:pull"}; {@code GET /token} answers
 *       {@code {"token":...,"access_token":...,"expires_in":300}}, optionally only to Basic credentials.
 * </ul>
 *
 * <h2>Version gate, token wall, User-Agent</h2>
 * {@link #gate} refuses a manifest to clients whose {@code User-Agent} names an older Ollama (412, {@link
 * VersionGate}); {@link #setRequiredToken} answers Hugging Face's 429 to requests without a bearer token (registry
 * and hub, {@link TokenWall}); every request's {@code User-Agent} is in {@link RequestRecord#userAgent()}.
 *
 * <h2>Other registries: Hugging Face and ModelScope</h2>
 * {@link Builder#huggingFace()} and {@link Builder#modelScope()} bind a third server, the hub ({@code 127.0.0.3:
 * <ephemeral>}, {@link #hubUrl()}), that blob GETs are redirected to; see {@link RegistryFlavour} and {@link
 * HubHandler}. {@link Builder#caseSensitiveNames} makes repository names match only as spelled.
 *
 * <h2>CDN</h2>
 * Serves a blob only at a valid, unexpired presigned URL (else 403 with an S3 XML error); refuses any request
 * carrying {@code Authorization} (400); exact Range semantics (200, 206, 416); per-connection throttling;
 * {@linkplain #cdnFaults() fault injection}. Expiry follows the injected clock, or {@link #expireIssuedUrls()}.
 *
 * <h2>Life cycle</h2>
 * {@link #start()} binds both servers; {@link #stop()} unbinds them (closing open connections) and keeps the
 * models, counters and ports, so a later {@link #start()} rebinds the same ports; {@link #close()} stops and
 * closes the Vert.x instance if this object created it. Everything else is thread-safe and may be called
 * while the servers run.
 */
public final class FakeRegistry implements AutoCloseable {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  private final Vertx vertx;
  private final boolean ownsVertx;
  private final String registryHost;
  private final String cdnHost;
  private final String hubHost;
  private volatile int registryPort;
  private volatile int cdnPort;
  private volatile int hubPort;
  private final RegistryFlavour flavour;
  private final ModelCatalog catalog;
  private final TrafficStats stats;
  private final UrlSigner signer;
  private final TokenAuthority tokens;
  private final FaultPlan cdnFaults = new FaultPlan();
  private final FaultPlan registryFaults = new FaultPlan();
  private final FaultPlan hubFaults = new FaultPlan();
  private final HubSigner hubSigner;
  private final TokenWall tokenWall;
  private final VersionGate versionGate;
  private final ConnectionThrottle hubThrottle;
  private final ConnectionThrottle cdnThrottle;
  private final ConnectionThrottle registryThrottle;
  private final Clock clock;
  private volatile boolean directMode;
  private volatile boolean headRedirects;
  private volatile int redirectStatus;
  private volatile boolean authRequired;
  private final io.vertx.core.net.KeyCertOptions tls;
  private final List<HttpServer> servers = new ArrayList<>();

  private FakeRegistry(Builder b) {
    this.ownsVertx = b.vertx == null;
    this.vertx = b.vertx != null ? b.vertx : Vertx.vertx();
    this.registryHost = b.registryHost;
    this.tls = b.tls;
    this.cdnHost = b.cdnHost;
    this.hubHost = b.hubHost;
    this.registryPort = b.registryPort;
    this.cdnPort = b.cdnPort;
    this.hubPort = b.hubPort;
    this.flavour = b.flavour;
    this.catalog = new ModelCatalog(b.caseSensitiveNames, b.flavour == RegistryFlavour.HUGGING_FACE);
    this.versionGate = new VersionGate(catalog::key);
    this.clock = b.clock;
    this.hubSigner = new HubSigner(b.clock, b.signValidity);
    this.tokenWall = new TokenWall(b.requiredToken);
    this.hubThrottle = new ConnectionThrottle(0, b.ticker);
    for (VersionGate.Gate g : b.gates) {
      versionGate.add(g.repository(), g.tag(), g.minimum());
    }
    versionGate.setLatestRelease(b.latestOllamaRelease);
    this.stats = new TrafficStats(b.requestLogCapacity);
    this.signer = new UrlSigner(b.clock, b.urlValidity);
    this.tokens = new TokenAuthority(b.clock, b.tokenUsername, b.tokenPassword);
    this.cdnThrottle = new ConnectionThrottle(b.cdnBytesPerSecond, b.ticker);
    this.registryThrottle = new ConnectionThrottle(b.registryBytesPerSecond, b.ticker);
    this.directMode = b.directMode;
    this.headRedirects = b.headRedirects;
    this.redirectStatus = b.redirectStatus;
    this.authRequired = b.requireAuth;
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Starts a registry with default options and these models published. (With no models, use
   * {@code builder().start()}: Java resolves a bare {@code FakeRegistry.start()} to the instance method.)
   */
  public static FakeRegistry start(FakeModel... models) {
    FakeRegistry r = builder().build();
    for (FakeModel m : models) {
      r.addModel(m);
    }
    return r.start();
  }

  /**
   * Binds the servers (on the ports of a previous start, if any): registry and CDN, and the hub in the Hugging Face
   * and ModelScope flavours. Blocks until they listen.
   *
   * @throws IllegalStateException when already started or a port cannot be bound
   */
  public synchronized FakeRegistry start() {
    if (!servers.isEmpty()) {
      throw new IllegalStateException("already started");
    }
    BlobSender cdnSender = new BlobSender(vertx, stats, TrafficStats.Origin.CDN, cdnThrottle);
    BlobSender registrySender = new BlobSender(vertx, stats, TrafficStats.Origin.REGISTRY, registryThrottle);

    try {
      HttpServer registry = listen(() -> {
        HttpServer server = vertx.createHttpServer(serverOptions());
        server.connectionHandler(c -> c.closeHandler(v -> registryThrottle.closed(c)));
        server.requestHandler(new RegistryHandler(this, catalog, stats, tokens, registryFaults, registrySender, clock));
        return server;
      }, registryPort, registryHost);
      registryPort = registry.actualPort();
      servers.add(registry);
      HttpServer cdn = listen(() -> {
        HttpServer server = vertx.createHttpServer(serverOptions());
        server.connectionHandler(c -> {
          stats.cdnConnectionOpened();
          c.closeHandler(v -> {
            stats.cdnConnectionClosed();
            cdnThrottle.closed(c);
          });
        });
        server.requestHandler(new CdnHandler(catalog, stats, signer, cdnFaults, cdnSender, clock));
        return server;
      }, cdnPort, cdnHost);
      cdnPort = cdn.actualPort();
      servers.add(cdn);
      if (flavour != RegistryFlavour.OLLAMA) {
        BlobSender hubSender = new BlobSender(vertx, stats, TrafficStats.Origin.HUB, hubThrottle);
        HttpServer hub = listen(() -> {
          HttpServer server = vertx.createHttpServer(serverOptions());
          server.connectionHandler(c -> c.closeHandler(v -> hubThrottle.closed(c)));
          server.requestHandler(new HubHandler(this, catalog, stats, hubSigner, hubFaults, hubSender, clock));
          return server;
        }, hubPort, hubHost);
        hubPort = hub.actualPort();
        servers.add(hub);
      }
    } catch (RuntimeException e) {
      stop();
      throw e;
    }
    return this;
  }

  /**
   * Binds {@code server}. A first start (port 0) picks a free port BELOW the kernel's ephemeral range
   * (32768 and up on Linux): outgoing connections take their local ports from that range, so while the
   * registry is stopped no client socket can occupy the port it must get back on restart.
   */
  private HttpServerOptions serverOptions() {
    HttpServerOptions o = new HttpServerOptions();
    if (tls != null) {
      o.setSsl(true).setKeyCertOptions(tls);
    }
    return o;
  }

  private HttpServer listen(java.util.function.Supplier<HttpServer> factory, int port, String host) {
    if (port != 0) {
      return await(factory.get().listen(port, host));
    }
    java.util.concurrent.ThreadLocalRandom random = java.util.concurrent.ThreadLocalRandom.current();
    RuntimeException last = null;
    for (int i = 0; i < 50; i++) {
      // a Vert.x server whose listen failed cannot listen again: a fresh one per try
      HttpServer server = factory.get();
      try {
        return await(server.listen(20000 + random.nextInt(12000), host));
      } catch (RuntimeException e) {
        last = e;
        server.close();
      }
    }
    throw last;
  }

  /** Unbinds the servers and closes their connections; models, counters and ports are kept for a restart. */
  public synchronized void stop() {
    for (HttpServer s : servers) {
      try {
        await(s.close());
      } catch (RuntimeException e) {
        // closing is best effort
      }
    }
    servers.clear();
  }

  public synchronized boolean running() {
    return !servers.isEmpty();
  }

  @Override
  public void close() {
    stop();
    if (ownsVertx) {
      await(vertx.close());
    }
  }

  // ---- addresses ----

  private String scheme() {
    return tls == null ? "http" : "https";
  }

  /** {@code http://127.0.0.1:<port>} ({@code https} with {@link Builder#tls}), no trailing slash. */
  public String registryUrl() {
    return scheme() + "://" + registryHost + ":" + registryPort;
  }

  /** {@code http://127.0.0.2:<port>}, no trailing slash. */
  public String cdnUrl() {
    return scheme() + "://" + cdnHost + ":" + cdnPort;
  }

  /**
   * {@code http://127.0.0.3:<port>}, no trailing slash: the hub of the {@linkplain Builder#huggingFace() Hugging Face}
   * (standing for huggingface.co) or {@linkplain Builder#modelScope() ModelScope} (ollama.modelscope.cn) flavour.
   *
   * @throws IllegalStateException in the default flavour, which has no hub
   */
  public String hubUrl() {
    if (flavour == RegistryFlavour.OLLAMA) {
      throw new IllegalStateException("the registry.ollama.ai flavour has no hub (use Builder.huggingFace() or modelScope())");
    }
    return scheme() + "://" + hubHost + ":" + hubPort;
  }

  public int hubPort() {
    return hubPort;
  }

  /**
   * A freshly signed hub URL for a blob, as the Hugging Face flavour's blob 307 gives:
   * {@code <hubUrl>/v2/<repository>/blobs/<digest>?__sign=<JWT>}, the repository spelled as given.
   */
  public String signedHubUrl(String repository, Digest digest) {
    String hub = hubUrl();
    return hub + "/v2/" + repository + "/blobs/" + digest + "?__sign=" + hubSigner.issue(repository, hub);
  }

  /** {@code <hubUrl>/v2/<repository>/blobs/download/<digest>}, where the ModelScope flavour's blob 307 points. */
  public String hubDownloadUrl(String repository, Digest digest) {
    return hubUrl() + "/v2/" + repository + "/blobs/download/" + digest;
  }

  public int registryPort() {
    return registryPort;
  }

  public int cdnPort() {
    return cdnPort;
  }

  /** {@code <registryUrl>/v2/<repository>/manifests/<reference>}. */
  public String manifestUrl(String repository, String reference) {
    return registryUrl() + "/v2/" + repository + "/manifests/" + reference;
  }

  /** {@code <registryUrl>/v2/<repository>/blobs/<digest>}. */
  public String blobUrl(String repository, Digest digest) {
    return registryUrl() + "/v2/" + repository + "/blobs/" + digest;
  }

  /** A freshly presigned CDN URL for a blob, as the registry's 307 would give. */
  public String signedCdnUrl(Digest digest) {
    return cdnUrl() + signer.signedPathAndQuery(digest);
  }

  /** The CDN URL of a blob without a signature (the CDN answers it 403). */
  public String unsignedCdnUrl(Digest digest) {
    return cdnUrl() + UrlSigner.path(digest);
  }

  public Vertx vertx() {
    return vertx;
  }

  // ---- models ----

  /** Publishes a model under its own repository and tag, replacing what the tag pointed at. */
  public FakeRegistry addModel(FakeModel model) {
    catalog.publish(model.repository(), model.tag(), model);
    return this;
  }

  /** Publishes a model under another repository and/or tag (the manifest bytes do not name either). */
  public FakeRegistry publish(String repository, String tag, FakeModel model) {
    catalog.publish(repository, tag, model);
    return this;
  }

  /** Removes a tag; the model's manifest (by digest) and blobs stay fetchable. */
  public boolean unpublish(String repository, String tag) {
    return catalog.unpublish(repository, tag);
  }

  /** Forgets a model: its tags, its manifest and its blobs (unless another known model shares them). */
  public void removeModel(FakeModel model) {
    catalog.remove(model);
  }

  public void clearModels() {
    catalog.clear();
  }

  // ---- behaviour switches (all take effect on the next request) ----

  /** Faults for CDN responses. */
  public FaultPlan cdnFaults() {
    return cdnFaults;
  }

  /** Faults for blob responses the registry serves itself (direct mode, and blob HEADs without redirect). */
  public FaultPlan registryFaults() {
    return registryFaults;
  }

  /** Faults for blob bodies the hub serves itself (ModelScope flavour). */
  public FaultPlan hubFaults() {
    return hubFaults;
  }

  /** Bytes per second per TCP connection to the CDN, 0 = unlimited; applies to bodies already in flight. */
  public void setCdnBytesPerSecond(long rate) {
    cdnThrottle.setRate(rate);
  }

  /**
   * From now on, every {@code every}-th TCP connection to the CDN (counted as each next sends a body, kept-alive ones
   * included) gets 1/{@code factor} of the per-connection rate (a CDN whose edges are unevenly loaded); {@code every} 0
   * makes every connection equal again.
   */
  public void setCdnSlowEdges(int every, int factor) {
    cdnThrottle.setSlowEdges(every, factor);
  }

  /** Bytes per second per TCP connection for blob bodies the registry serves itself, 0 = unlimited. */
  public void setRegistryBytesPerSecond(long rate) {
    registryThrottle.setRate(rate);
  }

  public void setDirectMode(boolean on) {
    directMode = on;
  }

  public boolean directMode() {
    return directMode;
  }

  public void setHeadRedirects(boolean on) {
    headRedirects = on;
  }

  public boolean headRedirects() {
    return headRedirects;
  }

  public void setRedirectStatus(int status) {
    redirectStatus = Builder.checkRedirectStatus(status);
  }

  public int redirectStatus() {
    return redirectStatus;
  }

  public void setAuthRequired(boolean on) {
    authRequired = on;
  }

  public boolean authRequired() {
    return authRequired;
  }

  /** Every presigned URL issued so far now gets 403 "Request has expired"; new ones are valid. */
  public void expireIssuedUrls() {
    signer.rotate();
  }

  /** Every {@code __sign} token the Hugging Face flavour issued so far is now refused (403); new ones are valid. */
  public void expireIssuedSigns() {
    hubSigner.rotate();
  }

  /**
   * Requests to the registry and the hub without {@code Authorization: Bearer <token>} get Hugging Face's 429
   * (see {@link TokenWall}); null turns the wall off. The CDN is not affected (it refuses any Authorization).
   */
  public void setRequiredToken(String token) {
    tokenWall.set(token);
  }

  public String requiredToken() {
    return tokenWall.token();
  }

  /**
   * Manifest GETs and HEADs of {@code repository:tag} (and of the manifest it points at, by digest) answer 412 with
   * registry.ollama.ai's words unless the User-Agent's Ollama version is at least {@code minimumOllamaVersion};
   * replaces an earlier gate of the same tag. See {@link VersionGate} for the sources.
   *
   * @throws IllegalArgumentException when the version does not parse (e.g. {@code 0.13.5}, {@code 0.12.0-rc1})
   */
  public FakeRegistry gate(String repository, String tag, String minimumOllamaVersion) {
    versionGate.add(repository, tag, minimumOllamaVersion);
    return this;
  }

  /** Removes the gate of {@code repository:tag}; false when there was none. */
  public boolean ungate(String repository, String tag) {
    return versionGate.remove(repository, tag);
  }

  /**
   * The newest released Ollama version, or null (default): a gate newer than it answers the "may be in pre-release"
   * 412 instead of the "download the latest version" one.
   */
  public void setLatestOllamaRelease(String version) {
    versionGate.setLatestRelease(version);
  }

  public RegistryFlavour flavour() {
    return flavour;
  }

  /** Whether repository names match only as spelled ({@link Builder#caseSensitiveNames}). */
  public boolean caseSensitiveNames() {
    return catalog.caseSensitiveNames();
  }

  TokenWall tokenWall() {
    return tokenWall;
  }

  VersionGate versionGate() {
    return versionGate;
  }

  /** Every bearer token issued so far is now refused. */
  public void revokeTokens() {
    tokens.revokeAll();
  }

  // ---- counters ----

  public TrafficStats stats() {
    return stats;
  }

  public void resetCounters() {
    stats.reset();
  }

  public long tokenRequests() {
    return stats.requests(RequestKind.TOKEN);
  }

  private static <T> T await(Future<T> f) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new IllegalStateException("fake registry: " + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException("fake registry: no answer within " + TIMEOUT, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /** Options of a {@link FakeRegistry}; every one has a default that mimics registry.ollama.ai. */
  public static final class Builder {
    private Vertx vertx;
    private String registryHost = "127.0.0.1";
    private String cdnHost = "127.0.0.2";
    private String hubHost = "127.0.0.3";
    private int registryPort;
    private int cdnPort;
    private int hubPort;
    private RegistryFlavour flavour = RegistryFlavour.OLLAMA;
    private boolean caseSensitiveNames;
    private Duration signValidity = Duration.ofSeconds(600);
    private String requiredToken;
    private String latestOllamaRelease;
    private final List<VersionGate.Gate> gates = new ArrayList<>();
    private Clock clock = Clock.systemUTC();
    private Ticker ticker = Ticker.system();
    private Duration urlValidity = Duration.ofHours(24);
    private boolean directMode;
    private boolean headRedirects;
    private int redirectStatus = 307;
    private boolean requireAuth;
    private io.vertx.core.net.KeyCertOptions tls;
    private String tokenUsername;
    private String tokenPassword;
    private long cdnBytesPerSecond;
    private long registryBytesPerSecond;
    private int requestLogCapacity = 1000;

    private Builder() {}

    /** Use this Vert.x instance (not closed by {@link FakeRegistry#close()}); default: a new one, owned. */
    public Builder vertx(Vertx v) {
      this.vertx = v;
      return this;
    }

    /** Default 127.0.0.1. */
    public Builder registryHost(String host) {
      this.registryHost = host;
      return this;
    }

    /** Default 127.0.0.2: a different host name from the registry's. */
    public Builder cdnHost(String host) {
      this.cdnHost = host;
      return this;
    }

    /** Default 127.0.0.3: the hub's host, different from the registry's and the CDN's. */
    public Builder hubHost(String host) {
      this.hubHost = host;
      return this;
    }

    /** Default 0 (ephemeral). */
    public Builder hubPort(int port) {
      this.hubPort = port;
      return this;
    }

    /**
     * Repository names match only as spelled (Hugging Face keeps capitals: hub-docs docs/hub/ollama.md names
     * {@code hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF}); default false: case-insensitive, as registry.ollama.ai
     * (Ollama compares names with {@code EqualFold}, types/model/name.go).
     */
    public Builder caseSensitiveNames(boolean on) {
      this.caseSensitiveNames = on;
      return this;
    }

    /**
     * Stands for hf.co (ollama/ollama #8360, #11654, #13297; hub-docs docs/hub/ollama.md): the manifest at
     * {@code /v2/<user>/<repo>/manifests/<quant>}; a blob GET answers 307 to {@link #signedHubUrl} on the hub
     * (another host: Ollama's direct URL), whose GETs answer 302 to the CDN's presigned URL; repository names are
     * {@linkplain #caseSensitiveNames case-sensitive}; quant tags match case-insensitively, and an unpublished
     * {@code latest} means {@code Q4_K_M} when present; a quant the repository lacks answers 400 "The specified tag
     * is not a valid quantization scheme. Please use another tag or "latest"" (ollama/ollama #7268). See
     * {@link RegistryFlavour#HUGGING_FACE} and {@link HubHandler}.
     */
    public Builder huggingFace() {
      this.flavour = RegistryFlavour.HUGGING_FACE;
      this.caseSensitiveNames = true;
      return this;
    }

    /**
     * Stands for modelscope.cn (modelscope/modelscope #1219): a blob GET answers 307 to
     * {@code <hubUrl>/v2/<user>/<model>/blobs/download/<digest>}, which the hub serves itself (exact Range
     * semantics; bytes counted under {@link TrafficStats.Origin#HUB}). Names stay case-insensitive unless
     * {@link #caseSensitiveNames} says otherwise (no source says how ModelScope compares them).
     */
    public Builder modelScope() {
      this.flavour = RegistryFlavour.MODEL_SCOPE;
      return this;
    }

    /** How long a Hugging Face {@code __sign} token is valid; default 600 s ({@code exp - iat} in #8360, #11654). */
    public Builder signValidity(Duration d) {
      this.signValidity = d;
      return this;
    }

    /** See {@link FakeRegistry#setRequiredToken}; default none. */
    public Builder requireToken(String token) {
      this.requiredToken = token;
      return this;
    }

    /** See {@link FakeRegistry#gate}. */
    public Builder gate(String repository, String tag, String minimumOllamaVersion) {
      gates.add(new VersionGate.Gate(repository, tag, VersionGate.requireVersion(minimumOllamaVersion)));
      return this;
    }

    /** See {@link FakeRegistry#setLatestOllamaRelease}; default none. */
    public Builder latestOllamaRelease(String version) {
      this.latestOllamaRelease = version == null ? null : VersionGate.requireVersion(version);
      return this;
    }

    /** Default 0 (ephemeral). */
    public Builder registryPort(int port) {
      this.registryPort = port;
      return this;
    }

    /** Default 0 (ephemeral). */
    public Builder cdnPort(int port) {
      this.cdnPort = port;
      return this;
    }

    /** The clock for URL signing/expiry, {@code __sign} expiry and token expiry; default the system UTC clock. */
    public Builder clock(Clock c) {
      this.clock = c;
      return this;
    }

    /** The time source of the throttles' token buckets; default {@link System#nanoTime()}. */
    public Builder ticker(Ticker t) {
      this.ticker = t;
      return this;
    }

    /** How long a presigned URL is valid ({@code X-Amz-Expires}); default 24 h. */
    public Builder urlValidity(Duration d) {
      this.urlValidity = d;
      return this;
    }

    /** The registry serves blob GETs itself (200/206, no redirect); default false. */
    public Builder directMode(boolean on) {
      this.directMode = on;
      return this;
    }

    /** Blob HEADs get the same redirect as GETs; default false (200 with Content-Length). */
    public Builder headRedirects(boolean on) {
      this.headRedirects = on;
      return this;
    }

    /** The status of the blob redirect: 307 (default, as registry.ollama.ai), or 301, 302, 303, 308. */
    public Builder redirectStatus(int status) {
      this.redirectStatus = checkRedirectStatus(status);
      return this;
    }

    /**
     * Both servers speak HTTPS with this key and certificate (e.g. a self-signed one whose subject names the hosts):
     * for testing upstream TLS verification. Default: plain HTTP.
     */
    public Builder tls(io.vertx.core.net.KeyCertOptions keyCert) {
      this.tls = keyCert;
      return this;
    }

    /** Manifest and blob requests need a bearer token from {@code /token}; default false. */
    public Builder requireAuth(boolean on) {
      this.requireAuth = on;
      return this;
    }

    /** {@code /token} only answers requests with these Basic credentials; default: no credentials needed. */
    public Builder tokenCredentials(String username, String password) {
      this.tokenUsername = username;
      this.tokenPassword = password;
      return this;
    }

    /** Bytes per second per CDN connection, 0 (default) = unlimited. */
    public Builder cdnBytesPerSecond(long rate) {
      this.cdnBytesPerSecond = rate;
      return this;
    }

    /** Bytes per second per registry connection for blob bodies it serves itself, 0 (default) = unlimited. */
    public Builder registryBytesPerSecond(long rate) {
      this.registryBytesPerSecond = rate;
      return this;
    }

    /** How many recent requests {@link TrafficStats#recentRequests()} keeps; default 1000. */
    public Builder requestLogCapacity(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("capacity must be >= 1, got " + n);
      }
      this.requestLogCapacity = n;
      return this;
    }

    public FakeRegistry build() {
      return new FakeRegistry(this);
    }

    /** Builds and {@linkplain FakeRegistry#start() starts}. */
    public FakeRegistry start() {
      return build().start();
    }

    static int checkRedirectStatus(int status) {
      if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) {
        throw new IllegalArgumentException("redirect status must be 301, 302, 303, 307 or 308, got " + status);
      }
      return status;
    }
  }
}
