package io.pullmesh.proxy;

import io.pullmesh.core.Bytes;
import io.pullmesh.fetch.FetchConfig;
import io.pullmesh.fetch.UpstreamCredentials;
import io.pullmesh.fetch.UpstreamTransport;
import io.pullmesh.tls.KeyAlgorithm;
import java.io.IOException;
import java.io.Reader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.logging.Level;

/**
 * Everything the proxy can be told, from (highest precedence first) command-line flags, environment
 * variables, a config file, and defaults. Every option has all three spellings: {@code --cache-dir DIR},
 * {@code PULLMESH_CACHE_DIR=DIR}, {@code cache-dir=DIR} in the file named by {@code --config}.
 */
public record ProxyConfig(
    String listenHost,
    int listenPort,
    URI upstream,
    Path cacheDir,
    int upstreamConnections,
    URI publicUrl,
    Duration manifestTtl,
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
    long scrubRate) {

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
   * unchanged, and where the CA is kept. Every other CONNECT is refused.
   */
  public record Interception(HostPatterns intercept, HostPatterns tunnel, Path caDir, KeyAlgorithm keyAlgorithm) {
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

  /** The options, their spellings, defaults and help text. */
  enum Option {
    LISTEN("listen", "HOST:PORT", "address to serve on", "0.0.0.0:9200"),
    TRANSFER_PORT("transfer-port", "PORT|none", "second port, on the --listen host, that Ollama's x/transfer downloader (tensor models) is redirected to for blob bodies, so it receives each blob once; 0 picks a free port [default: the --listen port + 1, 9201]", null),
    UPSTREAM("upstream", "URL", "registry to mirror", "https://registry.ollama.ai"),
    CACHE_DIR("cache-dir", "DIR", "where blobs and the index are kept", null),
    UPSTREAM_CONNECTIONS("upstream-connections", "N", "parallel ranged requests per blob, 1 to 256", Integer.toString(FetchConfig.DEFAULT_CONNECTIONS)),
    PUBLIC_URL("public-url", "URL", "the URL LAN clients reach this node by; blob GETs that arrive under another host name are redirected (307) to it", null),
    MANIFEST_TTL("manifest-ttl", "DURATION", "serve a cached tag this long before asking upstream again", "5m"),
    STALL_TIMEOUT("stall-timeout", "DURATION", "close an upstream connection that sends nothing for this long, and retry", "30s"),
    CONNECT_TIMEOUT("connect-timeout", "DURATION", "upstream connect timeout", "10s"),
    HEADER_TIMEOUT("header-timeout", "DURATION", "close a client connection that has not sent a request's headers this long after connecting (nginx's client_header_timeout)", "60s"),
    IDLE_TIMEOUT("idle-timeout", "DURATION", "close a client connection with nothing sent either way this long, or a kept-alive one whose next request's headers take longer (nginx's keepalive_timeout); a body that flows is never cut", "75s"),
    PIECE_SIZE("piece-size", "SIZE", "fixed piece size, 64k to 64m (default: chosen per blob, 1 to 16 MiB)", null),
    USER_AGENT("user-agent", "UA", "User-Agent sent upstream for work no Ollama client asked for (prefetch, seeding, revalidation, curl); an Ollama client's own goes upstream with its requests. registry.ollama.ai refuses new models (412) to old versions", FetchConfig.DEFAULT_USER_AGENT),
    UPSTREAM_USERNAME("upstream-username", "NAME", "username for a private upstream registry (password from PULLMESH_UPSTREAM_PASSWORD or --upstream-password-file)", null),
    UPSTREAM_PASSWORD_FILE("upstream-password-file", "FILE", "file holding the upstream password", null),
    SCRUB_INTERVAL("scrub-interval", "DURATION", "re-hash every committed blob this often, to find bit rot (a corrupt one is quarantined and fetched again); 0 for never (blobs are still re-hashed before a first serve to a peer)", "7d"),
    SCRUB_RATE("scrub-rate", "SIZE", "bytes per second the background re-hash may read", "32m"),
    CACHE_MAX_BYTES("cache-max-bytes", "SIZE|PCT%", "largest the cache may grow: a size (500g) or a share of its disk (80%)", "80%"),
    ADMIN_TOKEN("admin-token", "TOKEN", "bearer token the admin API wants for changes; without one, changes are allowed from loopback only", null),
    ALIASES("aliases", "NAME=TARGET,...", "names that serve another model, e.g. team/default:latest=library/qwen2.5:7b (also settable at runtime)", null),
    UPSTREAMS("upstreams", "KEY=URL[;username=U;password-file=F;token-file=F;own-hosts=H|H],...", "more upstream registries, by namespace (corp=https://registry.corp.example/team serves corp/<model> from team/<model> there) or by registry host (hf.co=https://hf.co;token-file=/etc/pullmesh/hf.token: hf.co, huggingface.co and modelscope.cn are built in)", null),
    UPSTREAM_CA("upstream-ca", "FILE", "extra CA certificates (PEM bundle) trusted for the upstream, besides the system's", null),
    UPSTREAM_PROXY("upstream-proxy", "URL", "reach the upstream through this HTTP proxy: http://[user:password@]host:port", null),
    INTERCEPT_HOSTS("intercept-hosts", "HOSTS", "hosts whose CONNECT pullmesh answers itself with its own CA (comma-separated, *.domain allowed; none to turn off)", DEFAULT_INTERCEPT),
    TUNNEL_HOSTS("tunnel-hosts", "HOSTS", "hosts a CONNECT may tunnel to unchanged (* for any); all others are refused", "none"),
    CA_DIR("ca-dir", "DIR", "where pullmesh's CA (ca.crt, ca.key) is kept [default <cache-dir>/ca]", null),
    CA_KEY_TYPE("ca-key-type", "TYPE", "key of a CA made now: ecdsa-p256 or rsa-3072", "ecdsa-p256"),
    MESH_NAME("mesh-name", "NAME", "join the LAN mesh of this name (needs --mesh-secret-file); nodes share which blobs they hold", null),
    MESH_SECRET_FILE("mesh-secret-file", "FILE", "the mesh's shared secret (at least 16 characters); nodes without it are refused", null),
    MESH_MEMBERS("mesh-members", "HOST:PORT,...", "other nodes' cluster addresses, where multicast is not allowed (default: multicast)", null),
    MESH_BIND("mesh-bind", "HOST", "this node's LAN address for the mesh [default: the --listen host, if not a wildcard]", null),
    MESH_PORT("mesh-port", "PORT", "first port the mesh's cluster engine tries", "5701"),
    LOG_LEVEL("log-level", "LEVEL", "error, warn, info, debug", "info"),
    CONFIG("config", "FILE", "a properties file with the same keys (e.g. upstream-connections=32)", null);

    final String key;
    final String arg;
    final String help;
    final String defaultValue;

    Option(String key, String arg, String help, String defaultValue) {
      this.key = key;
      this.arg = arg;
      this.help = help;
      this.defaultValue = defaultValue;
    }

    String flag() {
      return "--" + key;
    }

    String env() {
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

  /** Variables that are not options: the upstream password, and the admin client's (which the proxy ignores). */
  private static final List<String> OTHER_ENV = List.of("PULLMESH_UPSTREAM_PASSWORD", "PULLMESH_ADMIN_URL", "PULLMESH_ADMIN_TOKEN");

  /**
   * @param env the process environment (injected for tests)
   * @throws ConfigException naming the bad flag, variable or file and what is expected
   */
  public static Parsed parse(String[] args, Map<String, String> env) {
    Map<Option, String> flags = new EnumMap<>(Option.class);
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--help") || a.equals("-h") || a.equals("help")) {
        return new Help(help());
      }
      if (a.equals("--version") || a.equals("-V")) {
        return new Version("pullmesh proxy " + VERSION);
      }
      if (!a.startsWith("--")) {
        throw new ConfigException("unexpected argument '" + a + "' (commands come first: serve, admin, verify; options start with --; see --help)");
      }
      String name = a.substring(2);
      String value = null;
      int eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.substring(eq + 1);
        name = name.substring(0, eq);
      }
      Option o = Option.byKey(name);
      if (o == null) {
        throw new ConfigException("unknown option --" + name + suggestion(name) + " (see --help)");
      }
      if (value == null) {
        if (i + 1 >= args.length || args[i + 1].startsWith("--")) {
          throw new ConfigException(o.flag() + " needs a value: " + o.flag() + " " + o.arg);
        }
        value = args[++i];
      }
      if (flags.put(o, value) != null) {
        throw new ConfigException(o.flag() + " given twice");
      }
    }

    Map<Option, String> fromEnv = new EnumMap<>(Option.class);
    for (Option o : Option.values()) {
      String v = env.get(o.env());
      if (v != null && !v.isEmpty()) {
        fromEnv.put(o, v);
      }
    }
    List<String> warnings = new ArrayList<>();
    for (String k : env.keySet()) {
      if (k.startsWith("PULLMESH_") && !OTHER_ENV.contains(k) && !isOptionEnv(k)) {
        warnings.add("ignoring environment variable " + k + ": the proxy does not know it (known: PULLMESH_"
            + String.join(", PULLMESH_", envNames()) + ", " + String.join(", ", OTHER_ENV) + ")");
      }
    }

    Map<Option, String> fromFile = new EnumMap<>(Option.class);
    String configFile = flags.getOrDefault(Option.CONFIG, fromEnv.get(Option.CONFIG));
    if (configFile != null) {
      fromFile = readConfigFile(Path.of(configFile));
    }

    Map<Option, String> merged = new LinkedHashMap<>();
    Map<Option, String> source = new EnumMap<>(Option.class);
    for (Option o : Option.values()) {
      String v = flags.get(o);
      String from = o.flag();
      if (v == null) {
        v = fromEnv.get(o);
        from = o.env();
      }
      if (v == null) {
        v = fromFile.get(o);
        from = o.key + " in " + configFile;
      }
      if (v == null) {
        v = o.defaultValue;
        from = "default of " + o.flag();
      }
      if (v != null) {
        merged.put(o, v);
        source.put(o, from);
      }
    }
    return new Run(build(merged, source, env), List.copyOf(warnings));
  }

  private static boolean isOptionEnv(String k) {
    for (Option o : Option.values()) {
      if (o.env().equals(k)) {
        return true;
      }
    }
    return false;
  }

  private static List<String> envNames() {
    List<String> names = new ArrayList<>();
    for (Option o : Option.values()) {
      names.add(o.name());
    }
    return names;
  }

  private static Map<Option, String> readConfigFile(Path file) {
    Properties props = new Properties();
    try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      props.load(r);
    } catch (IOException e) {
      throw new ConfigException("cannot read config file " + file + ": " + e.getMessage());
    }
    Map<Option, String> out = new EnumMap<>(Option.class);
    for (String k : props.stringPropertyNames()) {
      Option o = Option.byKey(k.strip());
      if (o == null || o == Option.CONFIG) {
        throw new ConfigException("config file " + file + ": unknown key '" + k + "'" + suggestion(k) + " (keys are the option names without --, e.g. upstream-connections=32)");
      }
      out.put(o, props.getProperty(k).strip());
    }
    return out;
  }

  private static ProxyConfig build(Map<Option, String> v, Map<Option, String> src, Map<String, String> env) {
    String listen = v.get(Option.LISTEN);
    String host;
    int port;
    try {
      int colon = listen.lastIndexOf(':');
      if (colon < 0) {
        host = "0.0.0.0";
        port = Integer.parseInt(listen.strip());
      } else {
        host = listen.substring(0, colon).strip();
        if (host.startsWith("[") && host.endsWith("]")) {
          host = host.substring(1, host.length() - 1);
        }
        if (host.isEmpty()) {
          host = "0.0.0.0";
        }
        port = Integer.parseInt(listen.substring(colon + 1).strip());
      }
      if (port < 0 || port > 65535) {
        throw new NumberFormatException();
      }
    } catch (NumberFormatException e) {
      throw bad(Option.LISTEN, src, listen, "HOST:PORT with a port from 0 to 65535, e.g. 0.0.0.0:9200");
    }

    URI upstream = httpUrl(Option.UPSTREAM, v.get(Option.UPSTREAM), src);
    URI publicUrl = v.containsKey(Option.PUBLIC_URL) ? httpUrl(Option.PUBLIC_URL, v.get(Option.PUBLIC_URL), src) : null;

    Path cacheDir = v.containsKey(Option.CACHE_DIR) ? Path.of(v.get(Option.CACHE_DIR)) : defaultCacheDir(env);

    int connections;
    try {
      connections = Integer.parseInt(v.get(Option.UPSTREAM_CONNECTIONS).strip());
      if (connections < 1 || connections > 256) {
        throw new NumberFormatException();
      }
    } catch (NumberFormatException e) {
      throw bad(Option.UPSTREAM_CONNECTIONS, src, v.get(Option.UPSTREAM_CONNECTIONS), "a whole number from 1 to 256");
    }

    Duration ttl = duration(Option.MANIFEST_TTL, v, src);
    Duration stall = duration(Option.STALL_TIMEOUT, v, src);
    Duration connect = duration(Option.CONNECT_TIMEOUT, v, src);
    if (stall.isZero() || connect.isZero()) {
      throw new ConfigException("timeouts must be longer than zero");
    }

    Integer pieceSize = null;
    if (v.containsKey(Option.PIECE_SIZE)) {
      long ps;
      try {
        ps = Bytes.parse(v.get(Option.PIECE_SIZE));
      } catch (IllegalArgumentException e) {
        ps = -1;
      }
      if (ps < (64 << 10) || ps > (64 << 20)) {
        throw bad(Option.PIECE_SIZE, src, v.get(Option.PIECE_SIZE), "a size from 64k to 64m");
      }
      pieceSize = (int) ps;
    }

    UpstreamCredentials creds = null;
    if (v.containsKey(Option.UPSTREAM_USERNAME)) {
      String password = env.get("PULLMESH_UPSTREAM_PASSWORD");
      if (v.containsKey(Option.UPSTREAM_PASSWORD_FILE)) {
        try {
          password = Files.readString(Path.of(v.get(Option.UPSTREAM_PASSWORD_FILE)), StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
          throw new ConfigException("cannot read " + Option.UPSTREAM_PASSWORD_FILE.flag() + " " + v.get(Option.UPSTREAM_PASSWORD_FILE) + ": " + e.getMessage());
        }
      }
      if (password == null) {
        throw new ConfigException(Option.UPSTREAM_USERNAME.flag() + " is set but no password: set PULLMESH_UPSTREAM_PASSWORD or " + Option.UPSTREAM_PASSWORD_FILE.flag());
      }
      creds = new UpstreamCredentials(v.get(Option.UPSTREAM_USERNAME), password);
    }

    if (upstream.getRawUserInfo() != null) {
      // credentials written into the URL (http://user:password@host) are taken as the upstream's credentials and
      // never kept in the URL, which is shown in the startup line, on / and in the admin stats
      if (creds != null) {
        throw new ConfigException(src.getOrDefault(Option.UPSTREAM, Option.UPSTREAM.flag()) + ": " + Redaction.url(upstream)
            + " carries credentials and " + Option.UPSTREAM_USERNAME.flag() + " is set too: give them once");
      }
      creds = credentialsOf(upstream);
      upstream = withoutUserInfo(upstream);
    }

    Level level = switch (v.get(Option.LOG_LEVEL).strip().toLowerCase(Locale.ROOT)) {
      case "error" -> Level.SEVERE;
      case "warn", "warning" -> Level.WARNING;
      case "info" -> Level.INFO;
      case "debug" -> Level.FINE;
      case "trace" -> Level.FINEST;
      default -> throw bad(Option.LOG_LEVEL, src, v.get(Option.LOG_LEVEL), "one of error, warn, info, debug");
    };

    CacheLimit limit = cacheLimit(v.get(Option.CACHE_MAX_BYTES), src);
    String token = v.get(Option.ADMIN_TOKEN);
    if (token != null && token.strip().length() < 16) {
      throw new ConfigException(src.getOrDefault(Option.ADMIN_TOKEN, "--admin-token") + ": too short (use at least 16 characters, e.g. from `openssl rand -hex 16`)");
    }
    List<String> aliases = new ArrayList<>();
    if (v.containsKey(Option.ALIASES)) {
      for (String a : v.get(Option.ALIASES).split(",")) {
        if (!a.isBlank()) {
          if (!a.contains("=")) {
            throw bad(Option.ALIASES, src, a, "NAME=TARGET pairs separated by commas, e.g. team/default:latest=library/qwen2.5:7b");
          }
          aliases.add(a.strip());
        }
      }
    }
    UpstreamTransport transport = transport(v, src);
    Interception interception = interception(v, src, cacheDir);
    List<NamedUpstream> more = v.containsKey(Option.UPSTREAMS) ? upstreams(v.get(Option.UPSTREAMS), src) : List.of();
    MeshSettings mesh = mesh(v, src, host);
    String userAgent = v.get(Option.USER_AGENT).strip();
    if (userAgent.isEmpty() || userAgent.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
      throw bad(Option.USER_AGENT, src, userAgent, "a User-Agent on one line, e.g. " + FetchConfig.DEFAULT_USER_AGENT);
    }
    int transferPort = transferPort(v, src, port);
    Duration headerTimeout = duration(Option.HEADER_TIMEOUT, v, src);
    Duration idleTimeout = duration(Option.IDLE_TIMEOUT, v, src);
    if (headerTimeout.toSeconds() < 1 || idleTimeout.toSeconds() < 1) {
      throw new ConfigException(Option.HEADER_TIMEOUT.flag() + " and " + Option.IDLE_TIMEOUT.flag() + " must be at least 1s");
    }
    Duration scrubInterval = duration(Option.SCRUB_INTERVAL, v, src);
    long scrubRate;
    try {
      scrubRate = Bytes.parse(v.get(Option.SCRUB_RATE));
      if (scrubRate < (1 << 20)) {
        throw new IllegalArgumentException();
      }
    } catch (IllegalArgumentException e) {
      throw bad(Option.SCRUB_RATE, src, v.get(Option.SCRUB_RATE), "bytes per second, at least 1m (e.g. 32m)");
    }
    return new ProxyConfig(host, port, upstream, cacheDir, connections, publicUrl, ttl, stall, connect, pieceSize, creds, level,
        limit, token == null ? null : token.strip(), List.copyOf(aliases), transport, interception, more, mesh, userAgent, transferPort,
        headerTimeout, idleTimeout, scrubInterval, scrubRate);
  }

  private static int transferPort(Map<Option, String> v, Map<Option, String> src, int listenPort) {
    String t = v.get(Option.TRANSFER_PORT);
    if (t == null) {
      return listenPort == 0 ? 0 : listenPort + 1 <= 65535 ? listenPort + 1 : 0;
    }
    if (t.strip().equalsIgnoreCase("none")) {
      return NO_TRANSFER_PORT;
    }
    try {
      int p = Integer.parseInt(t.strip());
      if (p < 0 || p > 65535 || (p != 0 && p == listenPort)) {
        throw new NumberFormatException();
      }
      return p;
    } catch (NumberFormatException e) {
      throw bad(Option.TRANSFER_PORT, src, t, "a port from 0 to 65535 other than the --listen port, or none");
    }
  }

  private static MeshSettings mesh(Map<Option, String> v, Map<Option, String> src, String listenHost) {
    if (!v.containsKey(Option.MESH_NAME)) {
      return null;
    }
    String name = v.get(Option.MESH_NAME).strip();
    if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,62}")) {
      throw bad(Option.MESH_NAME, src, name, "letters, digits and . _ - (e.g. office-berlin)");
    }
    if (!v.containsKey(Option.MESH_SECRET_FILE)) {
      throw new ConfigException(Option.MESH_NAME.flag() + " needs " + Option.MESH_SECRET_FILE.flag() + " FILE holding the mesh's shared secret "
          + "(e.g. `openssl rand -hex 32 > /etc/pullmesh/mesh.secret`, the same file on every node)");
    }
    String secret;
    try {
      secret = Files.readString(Path.of(v.get(Option.MESH_SECRET_FILE)), StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      throw new ConfigException("cannot read " + Option.MESH_SECRET_FILE.flag() + " " + v.get(Option.MESH_SECRET_FILE) + ": " + e.getMessage());
    }
    if (secret.length() < 16) {
      throw new ConfigException(Option.MESH_SECRET_FILE.flag() + " " + v.get(Option.MESH_SECRET_FILE)
          + ": the secret is too short (use at least 16 characters, e.g. from `openssl rand -hex 32`)");
    }
    String bind = v.containsKey(Option.MESH_BIND) ? v.get(Option.MESH_BIND).strip() : listenHost;
    if (bind.equals("0.0.0.0") || bind.equals("::")) {
      throw new ConfigException(Option.MESH_NAME.flag() + ": set " + Option.MESH_BIND.flag() + " to this node's LAN address (the --listen host "
          + listenHost + " is a wildcard, which other nodes cannot reach)");
    }
    int port;
    try {
      port = Integer.parseInt(v.get(Option.MESH_PORT).strip());
      if (port < 1 || port > 65535) {
        throw new NumberFormatException();
      }
    } catch (NumberFormatException e) {
      throw bad(Option.MESH_PORT, src, v.get(Option.MESH_PORT), "a port from 1 to 65535");
    }
    List<String> members = new ArrayList<>();
    if (v.containsKey(Option.MESH_MEMBERS)) {
      for (String m : v.get(Option.MESH_MEMBERS).split(",")) {
        if (!m.isBlank()) {
          members.add(m.strip());
        }
      }
    }
    return new MeshSettings(name, secret, bind, port, List.copyOf(members));
  }

  private static List<NamedUpstream> upstreams(String value, Map<Option, String> src) {
    String where = src.getOrDefault(Option.UPSTREAMS, Option.UPSTREAMS.flag());
    String example = " (expected NS=URL or HOST=URL, each [;username=U;password-file=F;token-file=F;own-hosts=H|H], separated by commas, "
        + "e.g. corp=https://registry.corp.example/team or hf.co=https://hf.co;token-file=/etc/pullmesh/hf.token)";
    List<NamedUpstream> out = new ArrayList<>();
    java.util.Set<String> seen = new java.util.HashSet<>();
    for (String entry : value.split(",")) {
      if (entry.isBlank()) {
        continue;
      }
      String[] parts = entry.strip().split(";");
      int eq = parts[0].indexOf('=');
      if (eq <= 0) {
        throw new ConfigException(where + ": '" + entry.strip() + "' has no NS=URL" + example);
      }
      String ns = parts[0].substring(0, eq).strip();
      boolean host = ns.contains(".");
      if (host ? !ns.matches("[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+") : !ns.matches("[a-z0-9]+([_-][a-z0-9]+)*")
          || ns.equals("library")) {
        throw new ConfigException(where + ": '" + ns + "' is not a namespace or registry host pullmesh can route (a namespace: lower-case "
            + "letters, digits, _ and -; a host: lower-case DNS labels joined by dots, e.g. hf.co; library is registry.ollama.ai's, set "
            + "--upstream to replace it)");
      }
      if (!seen.add(ns)) {
        throw new ConfigException(where + ": " + (host ? "registry host " : "namespace ") + ns + " given twice");
      }
      URI url;
      try {
        url = new URI(parts[0].substring(eq + 1).strip());
        if (url.getScheme() == null || !(url.getScheme().equals("http") || url.getScheme().equals("https")) || url.getHost() == null
            || url.getRawQuery() != null) {
          throw new IllegalArgumentException();
        }
      } catch (java.net.URISyntaxException | IllegalArgumentException e) {
        throw new ConfigException(where + ": '" + Redaction.text(parts[0].substring(eq + 1).strip()) + "' is not an http:// or https:// URL" + example);
      }
      String path = url.getRawPath() == null ? "" : url.getRawPath().replaceAll("^/+|/+$", "");
      String remoteNs = path.isEmpty() ? null : path;
      if (remoteNs != null && host) {
        throw new ConfigException(where + ": the registry of host " + ns + " is a URL without a path (names keep their own "
            + "namespaces there), not " + Redaction.url(url));
      }
      if (remoteNs != null) {
        try {
          io.pullmesh.core.RepositoryName.parse(remoteNs + "/x");
        } catch (IllegalArgumentException e) {
          throw new ConfigException(where + ": the path of " + Redaction.url(url) + " is not a namespace: " + e.getMessage());
        }
      }
      Map<String, String> settings = new LinkedHashMap<>();
      for (int i = 1; i < parts.length; i++) {
        String kv = parts[i].strip();
        int e = kv.indexOf('=');
        String key = e < 0 ? kv : kv.substring(0, e);
        if (kv.isEmpty()) {
          continue;
        }
        if (e < 0 || !List.of("username", "password-file", "token-file", "own-hosts").contains(key)) {
          throw new ConfigException(where + ": unknown setting '" + kv + "' for " + ns + " (username=..., password-file=..., token-file=..., own-hosts=...)");
        }
        settings.put(key, kv.substring(e + 1));
      }
      String user = settings.get("username");
      String passwordFile = settings.get("password-file");
      UpstreamCredentials c = null;
      if (url.getRawUserInfo() != null) {
        if (user != null || passwordFile != null) {
          throw new ConfigException(where + ": " + ns + "'s URL carries credentials and username=/password-file= are set too: give them once");
        }
        c = credentialsOf(url);
      } else if (user != null) {
        if (passwordFile == null) {
          throw new ConfigException(where + ": " + ns + " has a username but no password-file=FILE");
        }
        c = new UpstreamCredentials(user, readSecret(where, "the password file of " + ns, passwordFile));
      } else if (passwordFile != null) {
        throw new ConfigException(where + ": " + ns + " has a password-file but no username=NAME");
      }
      String token = settings.containsKey("token-file") ? readSecret(where, "the token file of " + ns, settings.get("token-file")) : null;
      if (token != null && token.isEmpty()) {
        throw new ConfigException(where + ": the token file of " + ns + ", " + settings.get("token-file") + ", is empty");
      }
      java.util.Set<String> own = new java.util.LinkedHashSet<>();
      if (settings.containsKey("own-hosts")) {
        for (String h : settings.get("own-hosts").split("\\|")) {
          if (!h.isBlank()) {
            own.add(h.strip().toLowerCase(Locale.ROOT));
          }
        }
      } else if (host) {
        BUILT_IN_HOSTS.stream().filter(b -> b.namespace().equals(ns)).findFirst().ifPresent(b -> own.addAll(b.ownHosts()));
      }
      URI base = URI.create(url.getScheme() + "://" + url.getRawAuthority());
      out.add(new NamedUpstream(ns, base, remoteNs, c, token, own));
    }
    return List.copyOf(out);
  }

  /** {@code user:password} of a URL, percent-decoded, as credentials ({@code user} alone: an empty password). */
  private static UpstreamCredentials credentialsOf(URI url) {
    String[] parts = url.getRawUserInfo().split(":", 2);
    java.util.function.UnaryOperator<String> dec = t -> java.net.URLDecoder.decode(t.replace("+", "%2B"), StandardCharsets.UTF_8);
    return new UpstreamCredentials(dec.apply(parts[0]), parts.length > 1 ? dec.apply(parts[1]) : "");
  }

  private static URI withoutUserInfo(URI url) {
    return URI.create(url.getScheme() + "://" + url.getRawAuthority().substring(url.getRawAuthority().indexOf('@') + 1)
        + (url.getRawPath() == null ? "" : url.getRawPath()));
  }

  private static String readSecret(String where, String what, String file) {
    try {
      return Files.readString(Path.of(file), StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      throw new ConfigException(where + ": cannot read " + what + ", " + file + ": " + e.getMessage());
    }
  }

  private static UpstreamTransport transport(Map<Option, String> v, Map<Option, String> src) {
    List<java.security.cert.X509Certificate> extra = List.of();
    if (v.containsKey(Option.UPSTREAM_CA)) {
      try {
        extra = UpstreamTransport.readCertificates(Path.of(v.get(Option.UPSTREAM_CA)));
      } catch (IllegalArgumentException e) {
        throw new ConfigException(src.getOrDefault(Option.UPSTREAM_CA, Option.UPSTREAM_CA.flag()) + ": " + e.getMessage());
      }
    }
    URI proxy = null;
    if (v.containsKey(Option.UPSTREAM_PROXY)) {
      String value = v.get(Option.UPSTREAM_PROXY);
      try {
        proxy = new URI(value.strip());
        if (!"http".equals(proxy.getScheme()) || proxy.getHost() == null || proxy.getPort() <= 0
            || (proxy.getRawPath() != null && !proxy.getRawPath().isEmpty() && !proxy.getRawPath().equals("/"))) {
          throw new IllegalArgumentException();
        }
      } catch (java.net.URISyntaxException | IllegalArgumentException e) {
        throw bad(Option.UPSTREAM_PROXY, src, value, "http://[user:password@]host:port, e.g. http://proxy.corp:3128");
      }
    }
    return new UpstreamTransport(extra, proxy);
  }

  private static Interception interception(Map<Option, String> v, Map<Option, String> src, Path cacheDir) {
    HostPatterns intercept;
    HostPatterns tunnel;
    try {
      intercept = HostPatterns.parse(v.get(Option.INTERCEPT_HOSTS));
    } catch (IllegalArgumentException e) {
      throw new ConfigException(src.getOrDefault(Option.INTERCEPT_HOSTS, Option.INTERCEPT_HOSTS.flag()) + ": " + e.getMessage()
          + " (e.g. registry.ollama.ai,*.r2.cloudflarestorage.com, or none)");
    }
    try {
      tunnel = HostPatterns.parse(v.get(Option.TUNNEL_HOSTS));
    } catch (IllegalArgumentException e) {
      throw new ConfigException(src.getOrDefault(Option.TUNNEL_HOSTS, Option.TUNNEL_HOSTS.flag()) + ": " + e.getMessage()
          + " (e.g. github.com,*.githubusercontent.com, * for any, or none)");
    }
    Path caDir = v.containsKey(Option.CA_DIR) ? Path.of(v.get(Option.CA_DIR)) : cacheDir.resolve("ca");
    KeyAlgorithm alg;
    try {
      alg = KeyAlgorithm.parse(v.get(Option.CA_KEY_TYPE));
    } catch (IllegalArgumentException e) {
      throw bad(Option.CA_KEY_TYPE, src, v.get(Option.CA_KEY_TYPE), "ecdsa-p256 or rsa-3072");
    }
    return new Interception(intercept, tunnel, caDir, alg);
  }

  private static CacheLimit cacheLimit(String value, Map<Option, String> src) {
    String t = value.strip();
    try {
      if (t.endsWith("%")) {
        double pct = Double.parseDouble(t.substring(0, t.length() - 1).strip());
        if (pct <= 0 || pct > 100) {
          throw new IllegalArgumentException();
        }
        return new CacheLimit(0, pct);
      }
      long bytes = Bytes.parse(t);
      if (bytes < (64L << 20)) {
        throw new IllegalArgumentException();
      }
      return new CacheLimit(bytes, 0);
    } catch (IllegalArgumentException e) {
      throw bad(Option.CACHE_MAX_BYTES, src, value, "a size of at least 64m (e.g. 500g) or a share of the disk from 1% to 100% (e.g. 80%)");
    }
  }

  private static Duration duration(Option o, Map<Option, String> v, Map<Option, String> src) {
    try {
      Duration d = Durations.parse(v.get(o));
      if (d.isNegative()) {
        throw new IllegalArgumentException();
      }
      return d;
    } catch (IllegalArgumentException e) {
      throw bad(o, src, v.get(o), "a duration such as 500ms, 30s, 5m or 1h");
    }
  }

  private static URI httpUrl(Option o, String value, Map<Option, String> src) {
    try {
      URI u = new URI(value.strip());
      if (u.getScheme() == null || !(u.getScheme().equals("http") || u.getScheme().equals("https")) || u.getHost() == null
          || u.getRawQuery() != null || u.getRawFragment() != null) {
        throw new IllegalArgumentException();
      }
      return u;
    } catch (java.net.URISyntaxException | IllegalArgumentException e) {
      throw bad(o, src, value, "an http:// or https:// URL with a host, e.g. https://registry.ollama.ai");
    }
  }

  private static ConfigException bad(Option o, Map<Option, String> src, String value, String expected) {
    return new ConfigException(src.getOrDefault(o, o.flag()) + ": '" + Redaction.text(value) + "' is not valid (expected " + expected + ")");
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

  private static String suggestion(String name) {
    Option best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (Option o : Option.values()) {
      int d = distance(name, o.key);
      if (d < bestDistance) {
        best = o;
        bestDistance = d;
      }
    }
    return best != null && bestDistance <= 3 ? "; did you mean " + best.flag() + "?" : "";
  }

  private static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  static String help() {
    StringBuilder b = new StringBuilder();
    b.append("pullmesh proxy ").append(VERSION).append(": a caching registry mirror that Ollama pulls through\n\n");
    b.append("Usage: java -jar pullmesh-proxy.jar [serve] [options]       run the proxy\n");
    b.append("       java -jar pullmesh-proxy.jar admin <command> [...]   talk to a running proxy (admin --help)\n");
    b.append("       java -jar pullmesh-proxy.jar verify [--cache-dir DIR] check a stopped proxy's cache\n");
    b.append("       java -jar pullmesh-proxy.jar ca print|rotate [--ca-dir DIR | --cache-dir DIR]\n\n");
    b.append("Commands:\n");
    b.append("  serve       run the proxy (the default)\n");
    b.append("  admin       stats, models, blobs, downloads, pins, aliases, pin, unpin, evict, refresh, prefetch,\n");
    b.append("              alias, unalias, verify: see admin --help\n");
    b.append("  verify      re-hash every blob of a cache no proxy is running on; corrupt ones go to quarantine/\n");
    b.append("  ca          print pullmesh's CA certificate (PEM, to trust), or rotate it (restart the proxy after)\n\n");
    b.append("Options (each also as an environment variable, and as a key in the --config file):\n");
    for (Option o : Option.values()) {
      String left = "  " + o.flag() + " " + o.arg;
      b.append(String.format("%-36s %s", left, o.help));
      if (o.defaultValue != null) {
        b.append(" [default ").append(o.defaultValue).append(']');
      } else if (o == Option.CACHE_DIR) {
        b.append(" [default ").append(defaultCacheDir(System.getenv())).append(']');
      }
      b.append("\n").append(String.format("%-36s %s%n", "", o.env()));
    }
    b.append(String.format("%-36s %s%n", "  --help", "print this help"));
    b.append(String.format("%-36s %s%n", "  --version", "print the version"));
    b.append("\nPull through it with:  ollama pull --insecure <this-host>:9200/library/qwen2.5:7b\n");
    b.append("or, unchanged names:   HTTPS_PROXY=http://<this-host>:9200 ollama serve   (trust <ca-dir>/ca.crt first: docs/interception.md)\n");
    b.append("Endpoints: /v2/... (registry API), /healthz, /metrics (Prometheus), /admin/v1/... (admin API)\n");
    b.append("Exit codes: 0 ok, 1 the operation failed or found problems, 2 bad usage or configuration, cannot connect, or refused\n");
    return b.toString();
  }

  /** The fetcher settings this configuration implies. */
  public FetchConfig fetchConfig() {
    FetchConfig f = FetchConfig.defaults().withConnections(upstreamConnections).withTimeouts(connectTimeout, stallTimeout)
        .withUserAgent(userAgent);
    if (pieceSize != null) {
      f = f.withPieceSizes(pieceSize, pieceSize);
    }
    return f;
  }

  /** This configuration with another listen address (tests use port 0, and then a free transfer port too). */
  public ProxyConfig withListen(String host, int port) {
    return new ProxyConfig(host, port, upstream, cacheDir, upstreamConnections, publicUrl, manifestTtl, stallTimeout,
        connectTimeout, pieceSize, upstreamCredentials, logLevel, cacheLimit, adminToken, aliases, upstreamTransport, interception, upstreams,
        mesh, userAgent, transferPort == NO_TRANSFER_PORT ? NO_TRANSFER_PORT : port == 0 ? 0 : transferPort, headerTimeout, idleTimeout, scrubInterval,
        scrubRate);
  }
}
