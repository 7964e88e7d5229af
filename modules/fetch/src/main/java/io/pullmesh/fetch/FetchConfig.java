package io.pullmesh.fetch;

import java.time.Duration;

/**
 * How the fetcher talks to upstream.
 *
 * @param connections parallel ranged requests per blob
 * @param minPieceSize smallest piece, bytes (see {@link io.pullmesh.core.PieceLayout#choose})
 * @param maxPieceSize largest piece, bytes
 * @param connectTimeout TCP (and TLS) connect timeout
 * @param stallTimeout an upstream connection that delivers no byte for this long is closed and its piece retried
 * @param maxPieceAttempts tries per piece before the download fails
 * @param backoffBase first retry delay; doubles per try, with jitter
 * @param backoffMax retry delay cap
 * @param maxManifestBytes manifests larger than this are refused
 * @param maxRelocations how many times one download may re-resolve an expired or refused CDN URL
 * @param userAgent sent upstream for work no Ollama client asked for (prefetch, seeding, revalidation, and clients
 *     that are not Ollama); an Ollama client's own User-Agent goes upstream for its requests
 * @param via this node's token in the {@code Via} header of every upstream request ({@code 1.1 <via>}), by which a node
 *     recognises a request of its own that came back to it (an upstream redirecting a blob to pullmesh itself), or null
 * @param tailRace the share of a blob's size a download may fetch a second time to race its slow connections at the tail
 *     ({@link TailRace}), 0 for no race
 * @param upstreamRate the node's cap on blob bytes from upstream, bytes per second, shared equally by its downloads
 *     ({@link RateShares}); 0 for none. Peer bytes and manifests are not capped
 * @param bufferMemory the node's budget for download bytes held between socket and disk ({@link BufferBudget}); 0 for none
 */
public record FetchConfig(
    int connections,
    int minPieceSize,
    int maxPieceSize,
    Duration connectTimeout,
    Duration stallTimeout,
    int maxPieceAttempts,
    Duration backoffBase,
    Duration backoffMax,
    int maxManifestBytes,
    int maxRelocations,
    String userAgent,
    String via,
    double tailRace,
    long upstreamRate,
    long bufferMemory) {

  public static final int DEFAULT_CONNECTIONS = 16;
  /** The default {@link #bufferMemory()}: see docs/operations.md, "Memory". */
  public static final long DEFAULT_BUFFER_MEMORY = 32L << 20;

  /**
   * A current Ollama's User-Agent, in its form ({@code ollama/<version> (<GOARCH> <GOOS>) Go/<go version>}, server/images.go
   * {@code userAgent()}): registry.ollama.ai gates new models by the version it reads there (412 to older clients,
   * ollama #11457, #14431), so work with no client attached must look like a current Ollama to be served what a current
   * Ollama would be. 0.33.0 was the newest release line when this was written (2026-12); {@code --user-agent} sets
   * another. The architecture and system are this machine's, in Go's words.
   */
  public static final String DEFAULT_USER_AGENT = "ollama/0.33.0 (" + goArch() + " " + goOs() + ") Go/go1.24.1";
  /** {@link #DEFAULT_USER_AGENT} as documentation shows it, the same on every machine. */
  public static final String DEFAULT_USER_AGENT_TEXT = "ollama/0.33.0 (<arch> <os>) Go/go1.24.1, this machine's arch and OS as Go names them";

  private static String goArch() {
    String a = System.getProperty("os.arch", "amd64").toLowerCase(java.util.Locale.ROOT);
    return switch (a) {
      case "x86_64", "amd64" -> "amd64";
      case "aarch64", "arm64" -> "arm64";
      default -> a;
    };
  }

  private static String goOs() {
    String o = System.getProperty("os.name", "linux").toLowerCase(java.util.Locale.ROOT);
    return o.contains("mac") ? "darwin" : o.contains("win") ? "windows" : o.contains("linux") ? "linux" : o.replace(' ', '-');
  }

  public FetchConfig {
    if (tailRace < 0 || tailRace > 1) {
      throw new IllegalArgumentException("tail race share: " + tailRace + " (expected: 0 to 1)");
    }
    if (upstreamRate < 0 || bufferMemory < 0) {
      throw new IllegalArgumentException("upstream rate " + upstreamRate + ", buffer memory " + bufferMemory + " (expected: 0 or more)");
    }
    if (connections < 1 || connections > 256) {
      throw new IllegalArgumentException("upstream connections: " + connections + " (expected: 1 to 256)");
    }
    if (minPieceSize < 1 || maxPieceSize < minPieceSize) {
      throw new IllegalArgumentException("piece size bounds: " + minPieceSize + ".." + maxPieceSize);
    }
    if (maxPieceAttempts < 1) {
      throw new IllegalArgumentException("max piece attempts must be >= 1");
    }
  }

  public static FetchConfig defaults() {
    return new FetchConfig(DEFAULT_CONNECTIONS, io.pullmesh.core.PieceLayout.MIN_PIECE, io.pullmesh.core.PieceLayout.MAX_PIECE,
        Duration.ofSeconds(10), Duration.ofSeconds(30), 8, Duration.ofMillis(500), Duration.ofSeconds(15),
        4 << 20, 5, DEFAULT_USER_AGENT, null, 0, 0, DEFAULT_BUFFER_MEMORY);
  }

  public FetchConfig withConnections(int n) {
    return new FetchConfig(n, minPieceSize, maxPieceSize, connectTimeout, stallTimeout, maxPieceAttempts, backoffBase,
        backoffMax, maxManifestBytes, maxRelocations, userAgent, via, tailRace, upstreamRate, bufferMemory);
  }

  public FetchConfig withPieceSizes(int min, int max) {
    return new FetchConfig(connections, min, max, connectTimeout, stallTimeout, maxPieceAttempts, backoffBase,
        backoffMax, maxManifestBytes, maxRelocations, userAgent, via, tailRace, upstreamRate, bufferMemory);
  }

  public FetchConfig withTimeouts(Duration connect, Duration stall) {
    return new FetchConfig(connections, minPieceSize, maxPieceSize, connect, stall, maxPieceAttempts, backoffBase,
        backoffMax, maxManifestBytes, maxRelocations, userAgent, via, tailRace, upstreamRate, bufferMemory);
  }

  public FetchConfig withUserAgent(String ua) {
    return new FetchConfig(connections, minPieceSize, maxPieceSize, connectTimeout, stallTimeout, maxPieceAttempts, backoffBase,
        backoffMax, maxManifestBytes, maxRelocations, ua, via, tailRace, upstreamRate, bufferMemory);
  }

  public FetchConfig withVia(String token) {
    return new FetchConfig(connections, minPieceSize, maxPieceSize, connectTimeout, stallTimeout, maxPieceAttempts, backoffBase,
        backoffMax, maxManifestBytes, maxRelocations, userAgent, token, tailRace, upstreamRate, bufferMemory);
  }

  /**
   * How long a manifest fetch may take in all, however its bytes trickle in (issue 18: a manifest sent at 1 byte/s was
   * never cut, the stall timeout seeing a byte every second): the connect timeout and four stall timeouts.
   */
  public Duration manifestDeadline() {
    return connectTimeout.plus(stallTimeout.multipliedBy(4));
  }

  /** Lets a download fetch up to {@code share} of a blob's size twice to race its slow connections at the tail (0: never). */
  public FetchConfig withTailRace(double share) {
    return new FetchConfig(connections, minPieceSize, maxPieceSize, connectTimeout, stallTimeout, maxPieceAttempts, backoffBase,
        backoffMax, maxManifestBytes, maxRelocations, userAgent, via, share, upstreamRate, bufferMemory);
  }

  public FetchConfig withRetries(int attempts, Duration base, Duration max) {
    return new FetchConfig(connections, minPieceSize, maxPieceSize, connectTimeout, stallTimeout, attempts, base, max,
        maxManifestBytes, maxRelocations, userAgent, via, tailRace, upstreamRate, bufferMemory);
  }

  /** Caps the node's blob bytes from upstream at {@code bytesPerSecond}, shared equally by its downloads (0: no cap). */
  public FetchConfig withUpstreamRate(long bytesPerSecond) {
    return new FetchConfig(connections, minPieceSize, maxPieceSize, connectTimeout, stallTimeout, maxPieceAttempts, backoffBase,
        backoffMax, maxManifestBytes, maxRelocations, userAgent, via, tailRace, bytesPerSecond, bufferMemory);
  }

  /** Bounds the node's download bytes held between socket and disk at {@code bytes} (0: no bound). */
  public FetchConfig withBufferMemory(long bytes) {
    return new FetchConfig(connections, minPieceSize, maxPieceSize, connectTimeout, stallTimeout, maxPieceAttempts, backoffBase,
        backoffMax, maxManifestBytes, maxRelocations, userAgent, via, tailRace, upstreamRate, bytes);
  }
}
