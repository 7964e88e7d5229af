package io.pullmesh.testkit.client;

import io.pullmesh.testkit.throttle.Ticker;
import java.net.ProxySelector;
import java.time.Duration;
import javax.net.ssl.SSLContext;

/**
 * Settings of an {@link OllamaLikeClient}. Defaults are Ollama's own; tests shrink the part sizes, sleeps and
 * timeouts so that a few MiB split into many parts and a failure costs milliseconds.
 */
public final class ClientOptions {
  final long minPartSize;
  final long maxPartSize;
  final int numParts;
  final int maxTries;
  final Duration retryBaseSleep;
  final Duration stallTimeout;
  final Duration stallCheckInterval;
  final Duration resolveTimeout;
  final Duration connectTimeout;
  final RedirectMode redirectMode;
  final ProxySelector proxySelector;
  final SSLContext sslContext;
  final String userAgent;
  final String tokenUsername;
  final String tokenPassword;
  final Ticker ticker;

  private ClientOptions(Builder b) {
    this.minPartSize = b.minPartSize;
    this.maxPartSize = b.maxPartSize;
    this.numParts = b.numParts;
    this.maxTries = b.maxTries;
    this.retryBaseSleep = b.retryBaseSleep;
    this.stallTimeout = b.stallTimeout;
    this.stallCheckInterval = b.stallCheckInterval;
    this.resolveTimeout = b.resolveTimeout;
    this.connectTimeout = b.connectTimeout;
    this.redirectMode = b.redirectMode;
    this.proxySelector = b.proxySelector;
    this.sslContext = b.sslContext;
    this.userAgent = b.userAgent;
    this.tokenUsername = b.tokenUsername;
    this.tokenPassword = b.tokenPassword;
    this.ticker = b.ticker;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Ollama's defaults. */
  public static ClientOptions defaults() {
    return builder().build();
  }

  /**
   * Settings for fast tests: parts of 256 KiB to 1 MiB, 10 ms base retry sleep, 2 s stall timeout checked every
   * 50 ms, 5 s resolve timeout; everything else as Ollama.
   */
  public static Builder forTests() {
    return builder()
        .partSizes(256 * 1024, 1024 * 1024)
        .retryBaseSleep(Duration.ofMillis(10))
        .stallTimeout(Duration.ofSeconds(2))
        .stallCheckInterval(Duration.ofMillis(50))
        .resolveTimeout(Duration.ofSeconds(5));
  }

  public Builder toBuilder() {
    Builder b = new Builder();
    b.minPartSize = minPartSize;
    b.maxPartSize = maxPartSize;
    b.numParts = numParts;
    b.maxTries = maxTries;
    b.retryBaseSleep = retryBaseSleep;
    b.stallTimeout = stallTimeout;
    b.stallCheckInterval = stallCheckInterval;
    b.resolveTimeout = resolveTimeout;
    b.connectTimeout = connectTimeout;
    b.redirectMode = redirectMode;
    b.proxySelector = proxySelector;
    b.sslContext = sslContext;
    b.userAgent = userAgent;
    b.tokenUsername = tokenUsername;
    b.tokenPassword = tokenPassword;
    b.ticker = ticker;
    return b;
  }

  public RedirectMode redirectMode() {
    return redirectMode;
  }

  /** Builder; every setter validates its argument. */
  public static final class Builder {
    private long minPartSize = 100_000_000L;
    private long maxPartSize = 1_000_000_000L;
    private int numParts = 16;
    private int maxTries = 6;
    private Duration retryBaseSleep = Duration.ofSeconds(1);
    private Duration stallTimeout = Duration.ofSeconds(30);
    private Duration stallCheckInterval = Duration.ofSeconds(1);
    private Duration resolveTimeout = Duration.ofSeconds(30);
    private Duration connectTimeout = Duration.ofSeconds(30);
    private RedirectMode redirectMode = RedirectMode.STRICT;
    private ProxySelector proxySelector;
    private SSLContext sslContext;
    /** server/images.go:1392 {@code ollama/<version> (<GOARCH> <GOOS>) Go/<go version>}, of a current release. */
    private String userAgent = "ollama/0.30.3 (amd64 linux) Go/go1.24.1";
    private String tokenUsername;
    private String tokenPassword;
    private Ticker ticker = Ticker.system();

    private Builder() {}

    /** Part size = blob size / 16 clamped to [min, max]; Ollama: 100 MB and 1000 MB (decimal). */
    public Builder partSizes(long min, long max) {
      if (min < 1 || max < min) {
        throw new IllegalArgumentException("expected 1 <= min <= max, got " + min + ", " + max);
      }
      this.minPartSize = min;
      this.maxPartSize = max;
      return this;
    }

    /** Parts per blob size division and parts in flight at once; Ollama: 16. */
    public Builder numParts(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("numParts must be >= 1, got " + n);
      }
      this.numParts = n;
      return this;
    }

    /** Tries per part; Ollama: 6. */
    public Builder maxTries(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("maxTries must be >= 1, got " + n);
      }
      this.maxTries = n;
      return this;
    }

    /** Sleep after failed try n is base * 2^n; Ollama: 1 s. */
    public Builder retryBaseSleep(Duration d) {
      this.retryBaseSleep = requireNonNegative(d, "retryBaseSleep");
      return this;
    }

    /** A part with no new bytes for this long is restarted without using a try; Ollama: 30 s. */
    public Builder stallTimeout(Duration d) {
      this.stallTimeout = requirePositive(d, "stallTimeout");
      return this;
    }

    /** How often the stall watchdog looks; Ollama: 1 s. */
    public Builder stallCheckInterval(Duration d) {
      this.stallCheckInterval = requirePositive(d, "stallCheckInterval");
      return this;
    }

    /** How long the direct-URL resolution keeps retrying failed requests; Ollama: 30 s. */
    public Builder resolveTimeout(Duration d) {
      this.resolveTimeout = requirePositive(d, "resolveTimeout");
      return this;
    }

    public Builder connectTimeout(Duration d) {
      this.connectTimeout = requirePositive(d, "connectTimeout");
      return this;
    }

    /** Default {@link RedirectMode#STRICT}. */
    public Builder redirectMode(RedirectMode m) {
      this.redirectMode = m;
      return this;
    }

    /** Route requests through a proxy, as {@code HTTPS_PROXY} does for {@code ollama serve}; default none. */
    public Builder proxySelector(ProxySelector p) {
      this.proxySelector = p;
      return this;
    }

    /** Trust material for https, as the system trust store is for Ollama; default the JDK's. */
    public Builder sslContext(SSLContext c) {
      this.sslContext = c;
      return this;
    }

    /** The User-Agent of registry calls (manifest, HEAD, resolve, token); parts send Go's default, Go-http-client/1.1. */
    public Builder userAgent(String ua) {
      this.userAgent = ua;
      return this;
    }

    /** Basic credentials sent to the token endpoint (real Ollama signs with its key instead); default none. */
    public Builder tokenCredentials(String username, String password) {
      this.tokenUsername = username;
      this.tokenPassword = password;
      return this;
    }

    /** The time source of stall detection and elapsed times. */
    public Builder ticker(Ticker t) {
      this.ticker = t;
      return this;
    }

    public ClientOptions build() {
      return new ClientOptions(this);
    }

    private static Duration requirePositive(Duration d, String what) {
      if (d == null || d.isZero() || d.isNegative()) {
        throw new IllegalArgumentException(what + " must be > 0, got " + d);
      }
      return d;
    }

    private static Duration requireNonNegative(Duration d, String what) {
      if (d == null || d.isNegative()) {
        throw new IllegalArgumentException(what + " must be >= 0, got " + d);
      }
      return d;
    }
  }
}
