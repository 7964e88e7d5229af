package io.pullmesh.proxy;

import io.pullmesh.core.Bytes;
import io.pullmesh.fetch.FetchConfig;
import io.pullmesh.fetch.UpstreamCredentials;
import io.pullmesh.fetch.UpstreamTransport;
import io.pullmesh.proxy.ProxyConfig.CacheLimit;
import io.pullmesh.proxy.ProxyConfig.Interception;
import io.pullmesh.proxy.ProxyConfig.MeshSettings;
import io.pullmesh.proxy.ProxyConfig.NamedUpstream;
import io.pullmesh.proxy.ProxyConfig.Option;
import io.pullmesh.tls.KeyAlgorithm;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.logging.Level;

/**
 * Checks every option's value and builds the {@link ProxyConfig}. Each message names the option as it was given
 * ({@code --listen}, {@code PULLMESH_LISTEN}, {@code listen in FILE}) and says what would be right.
 */
final class ConfigBuilder {
  private final Map<Option, String> v;
  private final ConfigSources s;
  private final Map<String, String> env;

  private ConfigBuilder(ConfigSources s, Map<String, String> env) {
    this.v = s.values();
    this.s = s;
    this.env = env;
  }

  /** @throws ConfigException naming the bad option and what is expected */
  static ProxyConfig build(ConfigSources sources, Map<String, String> env) {
    return new ConfigBuilder(sources, env).build();
  }

  private ProxyConfig build() {
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
      throw bad(Option.LISTEN, listen, "HOST:PORT with a port from 0 to 65535, e.g. 0.0.0.0:9200");
    }

    URI upstream = httpUrl(Option.UPSTREAM, v.get(Option.UPSTREAM));
    URI publicUrl = v.containsKey(Option.PUBLIC_URL) ? httpUrl(Option.PUBLIC_URL, v.get(Option.PUBLIC_URL)) : null;

    Path cacheDir = v.containsKey(Option.CACHE_DIR) ? Path.of(v.get(Option.CACHE_DIR)) : ProxyConfig.defaultCacheDir(env);

    int connections = wholeNumber(Option.UPSTREAM_CONNECTIONS, 1, 256, "a whole number from 1 to 256");

    Duration ttl = duration(Option.MANIFEST_TTL);
    Duration maxStale = duration(Option.MANIFEST_MAX_STALE);
    double tailRace = percent(Option.TAIL_RACE, 10);
    Duration stall = duration(Option.STALL_TIMEOUT);
    Duration connect = duration(Option.CONNECT_TIMEOUT);
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
        throw bad(Option.PIECE_SIZE, v.get(Option.PIECE_SIZE), "a size from 64k to 64m");
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
        throw new ConfigException(s.source(Option.UPSTREAM) + ": " + Redaction.url(upstream)
            + " carries credentials and " + Option.UPSTREAM_USERNAME.flag() + " is set too: give them once");
      }
      creds = UpstreamCredentials.fromUserInfo(upstream.getRawUserInfo());
      upstream = UpstreamList.withoutUserInfo(upstream);
    }

    Level level = switch (v.get(Option.LOG_LEVEL).strip().toLowerCase(Locale.ROOT)) {
      case "error" -> Level.SEVERE;
      case "warn", "warning" -> Level.WARNING;
      case "info" -> Level.INFO;
      case "debug" -> Level.FINE;
      case "trace" -> Level.FINEST;
      default -> throw bad(Option.LOG_LEVEL, v.get(Option.LOG_LEVEL), "one of error, warn, info, debug");
    };
    LogSetup.Format logFormat = switch (v.get(Option.LOG_FORMAT).strip().toLowerCase(Locale.ROOT)) {
      case "text" -> LogSetup.Format.TEXT;
      case "json" -> LogSetup.Format.JSON;
      default -> throw bad(Option.LOG_FORMAT, v.get(Option.LOG_FORMAT), "text or json");
    };

    CacheLimit limit = cacheLimit(v.get(Option.CACHE_MAX_BYTES));
    String token = v.get(Option.ADMIN_TOKEN);
    if (token != null && token.strip().length() < 16) {
      throw new ConfigException(s.source(Option.ADMIN_TOKEN) + ": too short (use at least 16 characters, e.g. from `openssl rand -hex 16`)");
    }
    List<String> aliases = new ArrayList<>();
    if (v.containsKey(Option.ALIASES)) {
      for (String a : v.get(Option.ALIASES).split(",")) {
        if (!a.isBlank()) {
          if (!a.contains("=")) {
            throw bad(Option.ALIASES, a, "NAME=TARGET pairs separated by commas, e.g. team/default:latest=library/qwen2.5:7b");
          }
          aliases.add(a.strip());
        }
      }
    }
    UpstreamTransport transport = transport();
    Interception interception = interception(cacheDir);
    List<NamedUpstream> more = v.containsKey(Option.UPSTREAMS) ? UpstreamList.parse(v.get(Option.UPSTREAMS), s.source(Option.UPSTREAMS)) : List.of();
    MeshSettings mesh = mesh(host);
    String userAgent = v.get(Option.USER_AGENT).strip();
    if (userAgent.isEmpty() || userAgent.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
      throw bad(Option.USER_AGENT, userAgent, "a User-Agent on one line, e.g. " + FetchConfig.DEFAULT_USER_AGENT);
    }
    int transferPort = transferPort(port);
    Duration headerTimeout = duration(Option.HEADER_TIMEOUT);
    Duration idleTimeout = duration(Option.IDLE_TIMEOUT);
    if (headerTimeout.toSeconds() < 1 || idleTimeout.toSeconds() < 1) {
      throw new ConfigException(Option.HEADER_TIMEOUT.flag() + " and " + Option.IDLE_TIMEOUT.flag() + " must be at least 1s");
    }
    Duration scrubInterval = duration(Option.SCRUB_INTERVAL);
    long scrubRate;
    try {
      scrubRate = Bytes.parse(v.get(Option.SCRUB_RATE));
      if (scrubRate < (1 << 20)) {
        throw new IllegalArgumentException();
      }
    } catch (IllegalArgumentException e) {
      throw bad(Option.SCRUB_RATE, v.get(Option.SCRUB_RATE), "bytes per second, at least 1m (e.g. 32m)");
    }
    long upstreamRate = size(Option.UPSTREAM_RATE, 0, 64 << 10, "bytes per second, 0 for no cap or at least 64k (e.g. 40m)");
    long bufferMemory = size(Option.DOWNLOAD_BUFFER_MEMORY, -1, 256 << 10, "a size of at least 256k (e.g. 64m)");
    NetTransport netTransport = parsed(Option.NET_TRANSPORT, NetTransport::parse, "auto, epoll or nio");
    return new ProxyConfig(host, port, upstream, cacheDir, connections, publicUrl, ttl, maxStale, stall, connect, pieceSize, creds, level,
        limit, token == null ? null : token.strip(), List.copyOf(aliases), transport, interception, more, mesh, userAgent, transferPort,
        headerTimeout, idleTimeout, scrubInterval, scrubRate, logFormat, tailRace, upstreamRate, bufferMemory, netTransport);
  }

  private int transferPort(int listenPort) {
    String t = v.get(Option.TRANSFER_PORT);
    if (t == null) {
      return listenPort == 0 ? 0 : listenPort + 1 <= 65535 ? listenPort + 1 : 0;
    }
    if (t.strip().equalsIgnoreCase("none")) {
      return ProxyConfig.NO_TRANSFER_PORT;
    }
    try {
      int p = Integer.parseInt(t.strip());
      if (p < 0 || p > 65535 || (p != 0 && p == listenPort)) {
        throw new NumberFormatException();
      }
      return p;
    } catch (NumberFormatException e) {
      throw bad(Option.TRANSFER_PORT, t, "a port from 0 to 65535 other than the --listen port, or none");
    }
  }

  private MeshSettings mesh(String listenHost) {
    if (!v.containsKey(Option.MESH_NAME)) {
      return null;
    }
    String name = v.get(Option.MESH_NAME).strip();
    if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,62}")) {
      throw bad(Option.MESH_NAME, name, "letters, digits and . _ - (e.g. office-berlin)");
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
    int port = wholeNumber(Option.MESH_PORT, 1, 65535, "a port from 1 to 65535");
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

  private UpstreamTransport transport() {
    List<java.security.cert.X509Certificate> extra = List.of();
    if (v.containsKey(Option.UPSTREAM_CA)) {
      try {
        extra = UpstreamTransport.readCertificates(Path.of(v.get(Option.UPSTREAM_CA)));
      } catch (IllegalArgumentException e) {
        throw new ConfigException(s.source(Option.UPSTREAM_CA) + ": " + e.getMessage());
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
        throw bad(Option.UPSTREAM_PROXY, value, "http://[user:password@]host:port, e.g. http://proxy.corp:3128");
      }
    }
    return new UpstreamTransport(extra, proxy);
  }

  private Interception interception(Path cacheDir) {
    HostPatterns intercept;
    HostPatterns tunnel;
    try {
      intercept = HostPatterns.parse(v.get(Option.INTERCEPT_HOSTS));
    } catch (IllegalArgumentException e) {
      throw new ConfigException(s.source(Option.INTERCEPT_HOSTS) + ": " + e.getMessage()
          + " (e.g. registry.ollama.ai,*.r2.cloudflarestorage.com, or none)");
    }
    try {
      tunnel = HostPatterns.parse(v.get(Option.TUNNEL_HOSTS));
    } catch (IllegalArgumentException e) {
      throw new ConfigException(s.source(Option.TUNNEL_HOSTS) + ": " + e.getMessage()
          + " (e.g. github.com,*.githubusercontent.com, * for any, or none)");
    }
    Path caDir = v.containsKey(Option.CA_DIR) ? Path.of(v.get(Option.CA_DIR)) : cacheDir.resolve("ca");
    KeyAlgorithm alg = parsed(Option.CA_KEY_TYPE, KeyAlgorithm::parse, "ecdsa-p256 or rsa-3072");
    TlsEngine engine = parsed(Option.TLS_ENGINE, TlsEngine::parse, "auto, openssl or jdk");
    return new Interception(intercept, tunnel, caDir, alg, engine);
  }

  private CacheLimit cacheLimit(String value) {
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
      throw bad(Option.CACHE_MAX_BYTES, value, "a size of at least 64m (e.g. 500g) or a share of the disk from 1% to 100% (e.g. 80%)");
    }
  }

  /** A size ({@link Bytes#parse}): {@code off} (unless -1), or at least {@code min}. */
  private long size(Option o, long off, long min, String expected) {
    try {
      long n = Bytes.parse(v.get(o));
      if (n != off && n < min) {
        throw new IllegalArgumentException();
      }
      return n;
    } catch (IllegalArgumentException e) {
      throw bad(o, v.get(o), expected);
    }
  }

  private int wholeNumber(Option o, int min, int max, String expected) {
    try {
      int n = Integer.parseInt(v.get(o).strip());
      if (n < min || n > max) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw bad(o, v.get(o), expected);
    }
  }

  private Duration duration(Option o) {
    try {
      Duration d = Durations.parse(v.get(o));
      if (d.isNegative()) {
        throw new IllegalArgumentException();
      }
      return d;
    } catch (IllegalArgumentException e) {
      throw bad(o, v.get(o), "a duration such as 500ms, 30s, 5m or 1h");
    }
  }

  private URI httpUrl(Option o, String value) {
    try {
      URI u = new URI(value.strip());
      if (u.getScheme() == null || !(u.getScheme().equals("http") || u.getScheme().equals("https")) || u.getHost() == null
          || u.getRawQuery() != null || u.getRawFragment() != null) {
        throw new IllegalArgumentException();
      }
      return u;
    } catch (java.net.URISyntaxException | IllegalArgumentException e) {
      throw bad(o, value, "an http:// or https:// URL with a host, e.g. https://registry.ollama.ai");
    }
  }

  /** A share written {@code N%} (or {@code 0}), from 0 to {@code maxPercent}; returned as a fraction. */
  private double percent(Option o, double maxPercent) {
    String value = v.get(o).trim();
    try {
      double p = Double.parseDouble(value.endsWith("%") ? value.substring(0, value.length() - 1) : value);
      if (!(p >= 0 && p <= maxPercent) || (!value.endsWith("%") && p != 0)) {
        throw new NumberFormatException();
      }
      return p / 100;
    } catch (NumberFormatException e) {
      throw bad(o, v.get(o), "a share from 0% to " + (int) maxPercent + "%, such as 1%");
    }
  }

  /** {@code o}'s value read by {@code parse}: a value it refuses is {@code o}'s error, saying what was {@code expected}. */
  private <T> T parsed(Option o, java.util.function.Function<String, T> parse, String expected) {
    try {
      return parse.apply(v.get(o));
    } catch (IllegalArgumentException e) {
      throw bad(o, v.get(o), expected);
    }
  }

  private ConfigException bad(Option o, String value, String expected) {
    return new ConfigException(s.source(o) + ": '" + Redaction.text(value) + "' is not valid (expected " + expected + ")");
  }
}
