package io.pullmesh.testkit.client;

import io.pullmesh.testkit.throttle.Ticker;
import java.net.ProxySelector;
import java.time.Duration;
import javax.net.ssl.SSLContext;

/**
 * Settings of an {@link XTransferLikeClient}. Defaults are what {@code ollama serve} runs x/transfer with
 * (x/transfer/transfer.go:103-117, x/transfer/download.go:468, server/images.go:1180-1190 and
 * envconfig/config.go:285 at ollama commit fb30760). Tests shrink the stall timeout and the watchdog tick.
 */
public final class XTransferOptions {
  /** x/transfer/transfer.go:108 {@code defaultUserAgent}; server/images.go:1180 passes no UserAgent. */
  public static final String TRANSFER_USER_AGENT = "ollama-transfer/1.0";
  /** server/images.go:1392 format {@code ollama/%s (%s %s) Go/%s}, filled with a recent release. */
  public static final String OLLAMA_USER_AGENT = "ollama/0.32.15 (amd64 linux) Go/go1.26.0";
  /** x/transfer/transfer.go:112 {@code resumeThreshold = 64 << 20}. */
  public static final long RESUME_THRESHOLD = 64L << 20;

  final int concurrency;
  final int bodyConcurrency;
  final int maxRetries;
  final long resumeThreshold;
  final long smallBlobSpeedThreshold;
  final Duration stallTimeout;
  final Duration watchdogInterval;
  final Duration slowCheckAfter;
  final String userAgent;
  final String registryUserAgent;
  final Duration connectTimeout;
  final ProxySelector registryProxy;
  final SSLContext sslContext;
  final String tokenUsername;
  final String tokenPassword;
  final boolean tokenRefresh;
  final boolean requireTensorLayers;
  final boolean abortStalledReads;
  final Ticker ticker;

  private XTransferOptions(Builder b) {
    this.concurrency = b.concurrency;
    this.bodyConcurrency = b.bodyConcurrency;
    this.maxRetries = b.maxRetries;
    this.resumeThreshold = b.resumeThreshold;
    this.smallBlobSpeedThreshold = b.smallBlobSpeedThreshold;
    this.stallTimeout = b.stallTimeout;
    this.watchdogInterval = b.watchdogInterval;
    this.slowCheckAfter = b.slowCheckAfter;
    this.userAgent = b.userAgent;
    this.registryUserAgent = b.registryUserAgent;
    this.connectTimeout = b.connectTimeout;
    this.registryProxy = b.registryProxy;
    this.sslContext = b.sslContext;
    this.tokenUsername = b.tokenUsername;
    this.tokenPassword = b.tokenPassword;
    this.tokenRefresh = b.tokenRefresh;
    this.requireTensorLayers = b.requireTensorLayers;
    this.abortStalledReads = b.abortStalledReads;
    this.ticker = b.ticker;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Ollama's defaults. */
  public static XTransferOptions defaults() {
    return builder().build();
  }

  /** For fast tests: 2 s stall timeout, watchdog tick 50 ms; everything else as Ollama (64 MiB resume threshold too). */
  public static Builder forTests() {
    return builder().stallTimeout(Duration.ofSeconds(2)).watchdogInterval(Duration.ofMillis(50));
  }

  public Builder toBuilder() {
    Builder b = new Builder();
    b.concurrency = concurrency;
    b.bodyConcurrency = bodyConcurrency;
    b.maxRetries = maxRetries;
    b.resumeThreshold = resumeThreshold;
    b.smallBlobSpeedThreshold = smallBlobSpeedThreshold;
    b.stallTimeout = stallTimeout;
    b.watchdogInterval = watchdogInterval;
    b.slowCheckAfter = slowCheckAfter;
    b.userAgent = userAgent;
    b.registryUserAgent = registryUserAgent;
    b.connectTimeout = connectTimeout;
    b.registryProxy = registryProxy;
    b.sslContext = sslContext;
    b.tokenUsername = tokenUsername;
    b.tokenPassword = tokenPassword;
    b.tokenRefresh = tokenRefresh;
    b.requireTensorLayers = requireTensorLayers;
    b.abortStalledReads = abortStalledReads;
    b.ticker = ticker;
    return b;
  }

  public long resumeThreshold() {
    return resumeThreshold;
  }

  public int bodyConcurrency() {
    return bodyConcurrency;
  }

  /** Builder; every setter validates its argument. */
  public static final class Builder {
    private int concurrency = 64;
    private int bodyConcurrency = 4;
    private int maxRetries = 6;
    private long resumeThreshold = RESUME_THRESHOLD;
    private long smallBlobSpeedThreshold = 100L << 10;
    private Duration stallTimeout = Duration.ofSeconds(10);
    private Duration watchdogInterval = Duration.ofSeconds(1);
    private Duration slowCheckAfter = Duration.ofSeconds(5);
    private String userAgent = TRANSFER_USER_AGENT;
    private String registryUserAgent = OLLAMA_USER_AGENT;
    private Duration connectTimeout = Duration.ofSeconds(30);
    private ProxySelector registryProxy;
    private SSLContext sslContext;
    private String tokenUsername;
    private String tokenPassword;
    private boolean tokenRefresh = true;
    private boolean requireTensorLayers = true;
    private boolean abortStalledReads;
    private Ticker ticker = Ticker.system();

    private Builder() {}

    /** Blobs in flight at once (DownloadOptions.Concurrency); Ollama: {@code DefaultDownloadConcurrency = 64}. */
    public Builder concurrency(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("concurrency must be >= 1, got " + n);
      }
      this.concurrency = n;
      return this;
    }

    /**
     * Body-bearing transfers at once (DownloadOptions.BodyConcurrency, {@code OLLAMA_MAX_TRANSFER_STREAMS});
     * Ollama: 4. 0 or less means 1, as {@code max(1, n)} at x/transfer/download.go:136.
     */
    public Builder bodyConcurrency(int n) {
      this.bodyConcurrency = Math.max(1, n);
      return this;
    }

    /** Counted attempts per blob; Ollama: {@code maxRetries = 6}. */
    public Builder maxRetries(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("maxRetries must be >= 1, got " + n);
      }
      this.maxRetries = n;
      return this;
    }

    /** Blobs of at least this size resume a {@code .tmp} with {@code Range}; Ollama: 64 MiB. */
    public Builder resumeThreshold(long bytes) {
      if (bytes < 1) {
        throw new IllegalArgumentException("resumeThreshold must be >= 1, got " + bytes);
      }
      this.resumeThreshold = bytes;
      return this;
    }

    /** Blobs below this size give no speed sample; Ollama: 100 KiB. */
    public Builder smallBlobSpeedThreshold(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("smallBlobSpeedThreshold must be >= 0, got " + bytes);
      }
      this.smallBlobSpeedThreshold = bytes;
      return this;
    }

    /** No body byte for longer than this is a stall (DownloadOptions.StallTimeout); Ollama: 10 s. */
    public Builder stallTimeout(Duration d) {
      this.stallTimeout = requirePositive(d, "stallTimeout");
      return this;
    }

    /** The watchdog's ticker; Ollama: 1 s. */
    public Builder watchdogInterval(Duration d) {
      this.watchdogInterval = requirePositive(d, "watchdogInterval");
      return this;
    }

    /** The too-slow check starts after this much of a body; Ollama: 5 s. */
    public Builder slowCheckAfter(Duration d) {
      this.slowCheckAfter = requirePositive(d, "slowCheckAfter");
      return this;
    }

    /** User-Agent of the resolve and blob GETs; Ollama: {@value XTransferOptions#TRANSFER_USER_AGENT}. */
    public Builder userAgent(String ua) {
      this.userAgent = ua;
      return this;
    }

    /** User-Agent of the manifest and token requests (server/images.go:1392). */
    public Builder registryUserAgent(String ua) {
      this.registryUserAgent = ua;
      return this;
    }

    public Builder connectTimeout(Duration d) {
      this.connectTimeout = requirePositive(d, "connectTimeout");
      return this;
    }

    /**
     * A proxy for the manifest and token requests only, as {@code HTTPS_PROXY} is for {@code ollama serve}: the
     * x/transfer client's own {@code http.Transport} has no {@code Proxy} (x/transfer/transfer.go:122-131), so
     * resolve and blob GETs always go direct. Default none.
     */
    public Builder registryProxy(ProxySelector p) {
      this.registryProxy = p;
      return this;
    }

    public Builder sslContext(SSLContext c) {
      this.sslContext = c;
      return this;
    }

    /** Basic credentials for the token endpoint (real Ollama signs with its ed25519 key); default none. */
    public Builder tokenCredentials(String username, String password) {
      this.tokenUsername = username;
      this.tokenPassword = password;
      return this;
    }

    /**
     * Whether a 401 on a resolve GET fetches a token (server/images.go:1172 passes GetToken); false stands for a
     * caller without GetToken, where a 401 fails with "unauthorized". Default true.
     */
    public Builder tokenRefresh(boolean on) {
      this.tokenRefresh = on;
      return this;
    }

    /**
     * {@link XTransferLikeClient#pull} refuses a model without an {@code application/vnd.ollama.image.tensor}
     * layer, which Ollama pulls with server/download.go instead (server/images.go:1041); default true.
     */
    public Builder requireTensorLayers(boolean on) {
      this.requireTensorLayers = on;
      return this;
    }

    /**
     * Deviation switch, default false (faithful): when true the stall/slow watchdog also closes the body, so a
     * server that holds the connection open without sending is given up on. Real x/transfer cancels a context
     * the request does not use (x/transfer/download.go:346 vs :252) and stays blocked in {@code Read}.
     */
    public Builder abortStalledReads(boolean on) {
      this.abortStalledReads = on;
      return this;
    }

    public Builder ticker(Ticker t) {
      this.ticker = t;
      return this;
    }

    public XTransferOptions build() {
      return new XTransferOptions(this);
    }

    private static Duration requirePositive(Duration d, String what) {
      if (d == null || d.isZero() || d.isNegative()) {
        throw new IllegalArgumentException(what + " must be > 0, got " + d);
      }
      return d;
    }
  }
}
