package io.pullmesh.proxy;

import io.pullmesh.fetch.FetchConfig;
import io.pullmesh.fetch.UpstreamCredentials;
import io.pullmesh.fetch.UpstreamTransport;
import io.pullmesh.proxy.cli.OptionDef;
import io.pullmesh.tls.KeyAlgorithm;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.logging.Level;

/**
 * Everything the proxy can be told, from (highest precedence first) command-line flags, environment variables, a
 * config file, and defaults. Every option has all three spellings: {@code --cache-dir DIR},
 * {@code PULLMESH_CACHE_DIR=DIR}, {@code cache-dir=DIR} in the file named by {@code --config}. The options are
 * defined once, in {@link Option}; {@link ProxyOptions} parses them (on picocli) and {@link ConfigBuilder} checks
 * them and builds this record.
 */
public record ProxyConfig(
    String listenHost,
    int listenPort,
    URI upstream,
    Path cacheDir,
    int upstreamConnections,
    URI publicUrl,
    Duration manifestTtl,
    Duration manifestMaxStale,
    Duration stallTimeout,
    Duration connectTimeout,
    Integer pieceSize,
    UpstreamCredentials upstreamCredentials,
    Level logLevel,
    CacheLimit cacheLimit,
    String adminToken,
    List<String> aliases,
    UpstreamTransport upstreamTransport,
    Interception interception,
    List<NamedUpstream> upstreams,
    MeshSettings mesh,
    String userAgent,
    int transferPort,
    Duration headerTimeout,
    Duration idleTimeout,
    Duration scrubInterval,
    long scrubRate,
    LogSetup.Format logFormat,
    double tailRace,
    long upstreamRate,
    long downloadBufferMemory,
    NetTransport netTransport) {

  /** {@link #transferPort()} when x/transfer clients are not redirected. */
  public static final int NO_TRANSFER_PORT = -1;

  /**
   * This node's place in a LAN mesh, or null when it runs alone.
   *
   * @param members {@code host:port} of other nodes' cluster ports; empty to find them by multicast
   */
  public record MeshSettings(String name, String secret, String bindHost, int port, List<String> members) {}

  /**
   * Another upstream registry, for the repositories of one namespace or of one registry host.
   *
   * <p>A namespace ({@code corp=https://registry.corp.example/team}) serves {@code corp/llama} from {@code team/llama}
   * on that registry ({@code corp/llama} itself when the URL has no path), with its own credentials.
   *
   * <p>A key with a dot is a registry host, the host Ollama names in a model name ({@code ollama pull
   * hf.co/<user>/<repo>:<quant>}): {@code hf.co=https://hf.co} serves names qualified by that host
   * ({@code /v2/hf.co/<user>/<repo>/...} by name, and whatever is asked of {@code hf.co} through {@code HTTPS_PROXY})
   * from that registry, under the name without the host. Built-in defaults point hf.co, huggingface.co and
   * modelscope.cn at their real registries ({@link #BUILT_IN_HOSTS}).
   *
   * @param namespace the namespace, or the registry host (a key with a dot)
   * @param remoteNamespace the namespace on that registry, or null to keep {@code namespace}; always null for a host
   * @param credentials null for anonymous
   * @param bearerToken from {@code token-file=F}: sent as {@code Authorization: Bearer} to the registry's own hosts
   *     (never to a CDN host), e.g. a Hugging Face token that lifts the anonymous 429 (ollama #13297); or null
   * @param ownHosts from {@code own-hosts=a|b}: other host names of the same registry that may get its Authorization
   */
  public record NamedUpstream(String namespace, URI url, String remoteNamespace, UpstreamCredentials credentials, String bearerToken,
      java.util.Set<String> ownHosts) {
    public NamedUpstream {
      ownHosts = java.util.Set.copyOf(ownHosts);
    }

    /** Whether this is a registry host's entry ({@code hf.co=...}) rather than a namespace's. */
    public boolean isHost() {
      return namespace.contains(".");
    }

    @Override
    public String toString() {
      return "NamedUpstream[" + namespace + "=" + url + (remoteNamespace == null ? "" : "/" + remoteNamespace)
          + (credentials == null ? "" : ", " + credentials) + (bearerToken == null ? "" : ", token=***") + "]";
    }
  }

  /**
   * The registries Ollama pulls from by host name, besides registry.ollama.ai, as their operators publish them
   * (../docs/ollama-pull-protocol.md, "Other registries"): {@code ollama pull hf.co/<user>/<repo>:<quant>} (and
   * {@code huggingface.co/...}) from Hugging Face, whose blob GETs redirect to {@code huggingface.co} with a signed URL;
   * {@code ollama pull modelscope.cn/<user>/<model>} from ModelScope. A {@code --upstreams} entry for the same host
   * replaces its default.
   */
  public static final List<NamedUpstream> BUILT_IN_HOSTS = List.of(
      new NamedUpstream("hf.co", URI.create("https://hf.co"), null, null, null, java.util.Set.of("huggingface.co")),
      new NamedUpstream("huggingface.co", URI.create("https://huggingface.co"), null, null, null, java.util.Set.of("hf.co")),
      new NamedUpstream("modelscope.cn", URI.create("https://modelscope.cn"), null, null, null, java.util.Set.of("ollama.modelscope.cn")));

  /** The registry hosts this node routes: the {@code --upstreams} host entries, then the built-in ones not overridden. */
  public List<NamedUpstream> registryHosts() {
    List<NamedUpstream> out = new ArrayList<>();
    java.util.Set<String> keys = new java.util.HashSet<>();
    for (NamedUpstream u : upstreams) {
      if (u.isHost()) {
        out.add(u);
        keys.add(u.namespace());
      }
    }
    for (NamedUpstream u : BUILT_IN_HOSTS) {
      if (!keys.contains(u.namespace())) {
        out.add(u);
      }
    }
    return List.copyOf(out);
  }

  /**
   * The forward-proxy side ({@code HTTPS_PROXY} pointed at pullmesh): which hosts a CONNECT is intercepted for
   * (TLS terminated with a certificate from pullmesh's CA and answered from the cache), which it is tunnelled to
   * unchanged, where the CA is kept, and which TLS engine serves intercepted connections. Every other CONNECT is refused.
   */
  public record Interception(HostPatterns intercept, HostPatterns tunnel, Path caDir, KeyAlgorithm keyAlgorithm, TlsEngine tlsEngine) {
    public boolean enabled() {
      return !intercept.isEmpty();
    }
  }

  /**
   * The cache size limit: {@code bytes} exactly, or {@code percent} of the total size of the file system the cache
   * lives on (the file system is only known once the directory exists).
   */
  public record CacheLimit(long bytes, double percent) {
    /** The limit in bytes for a file system of {@code totalSpace} bytes. */
    public long resolve(long totalSpace) {
      return bytes > 0 ? bytes : (long) (totalSpace * percent / 100.0);
    }

    @Override
    public String toString() {
      return bytes > 0 ? io.pullmesh.core.Bytes.human(bytes) : (percent % 1 == 0 ? Long.toString((long) percent) : Double.toString(percent)) + "% of the disk";
    }
  }

  /**
   * What {@code HTTPS_PROXY} clients are answered for from the cache by default: registry.ollama.ai and its blob CDN
   * (Cloudflare R2), Hugging Face (hf.co, huggingface.co and its CDNs under hf.co: cas-bridge.xethub.hf.co,
   * cdn-lfs*.hf.co) and ModelScope (modelscope.cn and ollama.modelscope.cn, where its blobs redirect).
   */
  static final String DEFAULT_INTERCEPT = "registry.ollama.ai,*.r2.cloudflarestorage.com,hf.co,huggingface.co,*.hf.co,modelscope.cn,*.modelscope.cn";

  /**
   * The options: name (flag {@code --name}, variable {@code PULLMESH_NAME}, config file key {@code name}), value
   * label, default, help. {@code --help}, the README's option table ({@code cli.OptionTable}) and the shell
   * completion are made from this table.
   */
  public enum Option implements OptionDef {
    LISTEN("listen", "HOST:PORT", "0.0.0.0:9200", "address to serve on"),
    TRANSFER_PORT("transfer-port", "PORT|none", null, "the --listen port + 1, 9201", "second port, on the --listen host, that Ollama's "
        + "x/transfer downloader (tensor models) is redirected to for blob bodies, so it receives each blob once; 0 picks a free port, "
        + "none turns it off"),
    UPSTREAM("upstream", "URL", "https://registry.ollama.ai", "registry to mirror"),
    CACHE_DIR("cache-dir", "DIR", null, "~/.cache/pullmesh, or $XDG_CACHE_HOME/pullmesh", "where blobs and the index are kept"),
    UPSTREAM_CONNECTIONS("upstream-connections", "N", Integer.toString(FetchConfig.DEFAULT_CONNECTIONS), "parallel ranged requests per blob, "
        + "1 to 256"),
    PUBLIC_URL("public-url", "URL", null, "the Host each client used", "the URL LAN clients reach this node by; blob GETs that arrive under "
        + "another host name are redirected (307) to it"),
    MANIFEST_TTL("manifest-ttl", "DURATION", "5m", "serve a cached tag this long before asking upstream again"),
    MANIFEST_MAX_STALE("manifest-max-stale", "DURATION", "0", "past --manifest-ttl, answer a tag from the cache at once for up to this "
        + "long while one request revalidates it upstream (stale-while-revalidate); 0: every request waits for the revalidation"),
    STALL_TIMEOUT("stall-timeout", "DURATION", "30s", "close an upstream connection that sends nothing for this long, and retry"),
    CONNECT_TIMEOUT("connect-timeout", "DURATION", "10s", "upstream connect timeout"),
    HEADER_TIMEOUT("header-timeout", "DURATION", "60s", "close a client connection that has not sent a request's headers this long after "
        + "connecting (nginx's client_header_timeout)"),
    IDLE_TIMEOUT("idle-timeout", "DURATION", "75s", "close a client connection with nothing sent either way this long, or a kept-alive one "
        + "whose next request's headers take longer (nginx's keepalive_timeout); a body that flows is never cut"),
    TAIL_RACE("tail-race", "PCT%", "0%", "share of a blob a download may fetch twice to race a connection far slower than its "
        + "others at the tail (a CDN edge that crawls), the loser cut; above 0% also retires such a connection earlier and resumes its "
        + "piece on another; 0% for neither. Off by default: on a WAN link all connections share, a race spends bytes without gain"),
    UPSTREAM_RATE("upstream-rate", "SIZE", "0", "cap on blob bytes per second from upstream for the whole node (e.g. 40m), shared "
        + "equally by the downloads running; peer traffic, manifests and serving are not capped; 0 for no cap"),
    DOWNLOAD_BUFFER_MEMORY("download-buffer-memory", "SIZE", "32m", "memory all downloads together may hold between the network and "
        + "the disk; downloads wait for room instead of allocating more (at least 256k)"),
    PIECE_SIZE("piece-size", "SIZE", null, "chosen per blob, 1 to 16 MiB", "fixed piece size, 64k to 64m"),
    USER_AGENT("user-agent", "UA", FetchConfig.DEFAULT_USER_AGENT, FetchConfig.DEFAULT_USER_AGENT_TEXT, "User-Agent sent upstream for work no Ollama client asked for (prefetch, "
        + "seeding, revalidation, curl); an Ollama client's own goes upstream with its requests. registry.ollama.ai refuses new models (412) "
        + "to old versions"),
    UPSTREAM_USERNAME("upstream-username", "NAME", null, "username for a private upstream registry (password from PULLMESH_UPSTREAM_PASSWORD "
        + "or --upstream-password-file)"),
    UPSTREAM_PASSWORD_FILE("upstream-password-file", "FILE", null, "file holding the upstream password"),
    SCRUB_INTERVAL("scrub-interval", "DURATION", "7d", "re-hash every committed blob this often, to find bit rot (a corrupt one is "
        + "quarantined and fetched again); 0 for never (blobs are still re-hashed before a first serve to a peer)"),
    SCRUB_RATE("scrub-rate", "SIZE", "32m", "bytes per second the background re-hash may read"),
    CACHE_MAX_BYTES("cache-max-bytes", "SIZE|PCT%", "80%", "largest the cache may grow: a size (500g) or a share of its disk (80%)"),
    ADMIN_TOKEN("admin-token", "TOKEN", null, "bearer token the admin API wants for changes; without one, changes are allowed from "
        + "loopback only"),
    ALIASES("aliases", "NAME=TARGET,...", null, "names that serve another model, e.g. team/default:latest=library/qwen2.5:7b (also "
        + "settable at runtime)"),
    UPSTREAMS("upstreams", "KEY=URL[;username=U;password-file=F;token-file=F;own-hosts=H|H],...", null, "more upstream registries, by "
        + "namespace (corp=https://registry.corp.example/team serves corp/<model> from team/<model> there) or by registry host "
        + "(hf.co=https://hf.co;token-file=/etc/pullmesh/hf.token: hf.co, huggingface.co and modelscope.cn are built in)"),
    UPSTREAM_CA("upstream-ca", "FILE", null, "extra CA certificates (PEM bundle) trusted for the upstream, besides the system's"),
    UPSTREAM_PROXY("upstream-proxy", "URL", null, "reach the upstream through this HTTP proxy: http://[user:password@]host:port"),
    INTERCEPT_HOSTS("intercept-hosts", "HOSTS", DEFAULT_INTERCEPT, "hosts whose CONNECT pullmesh answers itself with its own CA "
        + "(comma-separated, *.domain allowed; none to turn off)"),
    TUNNEL_HOSTS("tunnel-hosts", "HOSTS", "none", "hosts a CONNECT may tunnel to unchanged (* for any); all others are refused"),
    CA_DIR("ca-dir", "DIR", null, "<cache-dir>/ca", "where pullmesh's CA (ca.crt, ca.key) is kept"),
    CA_KEY_TYPE("ca-key-type", "TYPE", "ecdsa-p256", null, "key of a CA made now: ecdsa-p256 or rsa-3072", "ecdsa-p256", "rsa-3072"),
    TLS_ENGINE("tls-engine", "ENGINE", "auto", null, "TLS for intercepted connections: openssl (BoringSSL, bundled for Linux glibc "
        + "x86-64/aarch64, macOS, Windows x86-64), jdk, or auto (openssl where it loads, else jdk)", "auto", "openssl", "jdk"),
    NET_TRANSPORT("net-transport", "TRANSPORT", "auto", null, "how sockets are driven: epoll (Netty's, bundled for Linux "
        + "x86-64/aarch64), nio (the JDK's), or auto (epoll where it loads, else nio)", "auto", "epoll", "nio"),
    MESH_NAME("mesh-name", "NAME", null, "join the LAN mesh of this name (needs --mesh-secret-file); nodes share which blobs they hold"),
    MESH_SECRET_FILE("mesh-secret-file", "FILE", null, "the mesh's shared secret (at least 16 characters); nodes without it are refused"),
    MESH_MEMBERS("mesh-members", "HOST:PORT,...", null, "multicast", "other nodes' cluster addresses, where multicast is not allowed"),
    MESH_BIND("mesh-bind", "HOST", null, "the --listen host, if not a wildcard", "this node's LAN address for the mesh"),
    MESH_PORT("mesh-port", "PORT", "5701", "first port the mesh's cluster engine tries"),
    LOG_LEVEL("log-level", "LEVEL", "info", null, "error, warn, info, debug", "error", "warn", "info", "debug"),
    LOG_FORMAT("log-format", "text|json", "text", null, "log lines as text, or as JSON objects (one per line, for Loki or Elasticsearch; "
        + "a pull's fields as JSON fields)", "text", "json"),
    CONFIG("config", "FILE", null, "a properties file with the same keys (e.g. upstream-connections=32)");

    final String key;
    final String arg;
    final String help;
    final String defaultValue;
    private final String defaultText;
    private final List<String> choices;

    Option(String key, String arg, String defaultValue, String help) {
      this(key, arg, defaultValue, null, help);
    }

    /** @param defaultText how a default that is computed is described (with {@code defaultValue} null) */
    Option(String key, String arg, String defaultValue, String defaultText, String help, String... choices) {
      this.key = key;
      this.arg = arg;
      this.help = help;
      this.defaultValue = defaultValue;
      this.defaultText = defaultText != null ? defaultText : defaultValue;
      this.choices = List.of(choices);
    }

    @Override
    public String key() {
      return key;
    }

    @Override
    public String arg() {
      return arg;
    }

    @Override
    public String help() {
      return help;
    }

    @Override
    public String defaultValue() {
      return defaultValue;
    }

    @Override
    public String defaultText() {
      return defaultText;
    }

    @Override
    public List<String> choices() {
      return choices;
    }

    @Override
    public String env() {
      return "PULLMESH_" + name();
    }

    static Option byKey(String key) {
      for (Option o : values()) {
        if (o.key.equals(key)) {
          return o;
        }
      }
      return null;
    }
  }

  /** What the command line asked for. */
  public sealed interface Parsed {}

  /** Run with this configuration; print the warnings first. */
  public record Run(ProxyConfig config, List<String> warnings) implements Parsed {}

  /** Print help and exit 0. */
  public record Help(String text) implements Parsed {}

  /** Print the version and exit 0. */
  public record Version(String text) implements Parsed {}

  public static final String VERSION = "0.1.0";

  /**
   * @param env the process environment (injected for tests)
   * @throws ConfigException naming the bad flag, variable or file and what is expected
   */
  public static Parsed parse(String[] args, Map<String, String> env) {
    return ProxyOptions.parse(args, env);
  }

  /** {@code $XDG_CACHE_HOME/pullmesh}, else the platform's user cache directory plus {@code pullmesh}. */
  public static Path defaultCacheDir(Map<String, String> env) {
    String xdg = env.get("XDG_CACHE_HOME");
    if (xdg != null && !xdg.isBlank()) {
      return Path.of(xdg, "pullmesh");
    }
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    String home = System.getProperty("user.home");
    if (os.contains("win") && env.get("LOCALAPPDATA") != null) {
      return Path.of(env.get("LOCALAPPDATA"), "pullmesh", "cache");
    }
    if (os.contains("mac")) {
      return Path.of(home, "Library", "Caches", "pullmesh");
    }
    return Path.of(home, ".cache", "pullmesh");
  }

  /** The fetcher settings this configuration implies. */
  public FetchConfig fetchConfig() {
    FetchConfig f = FetchConfig.defaults().withConnections(upstreamConnections).withTimeouts(connectTimeout, stallTimeout)
        .withUserAgent(userAgent).withTailRace(tailRace).withUpstreamRate(upstreamRate).withBufferMemory(downloadBufferMemory);
    if (pieceSize != null) {
      f = f.withPieceSizes(pieceSize, pieceSize);
    }
    return f;
  }

  /** This configuration with another listen address (tests use port 0, and then a free transfer port too). */
  public ProxyConfig withListen(String host, int port) {
    return new ProxyConfig(host, port, upstream, cacheDir, upstreamConnections, publicUrl, manifestTtl, manifestMaxStale, stallTimeout,
        connectTimeout, pieceSize, upstreamCredentials, logLevel, cacheLimit, adminToken, aliases, upstreamTransport, interception, upstreams,
        mesh, userAgent, transferPort == NO_TRANSFER_PORT ? NO_TRANSFER_PORT : port == 0 ? 0 : transferPort, headerTimeout, idleTimeout, scrubInterval,
        scrubRate, logFormat, tailRace, upstreamRate, downloadBufferMemory, netTransport);
  }
}
