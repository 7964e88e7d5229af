package io.pullmesh.testkit.registry;

import io.pullmesh.core.Digest;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.tools.ExternalTool;
import io.pullmesh.testkit.tools.ProcessResult;
import io.pullmesh.testkit.tools.Tools;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;

/**
 * A real OCI registry as a subprocess: the CNCF distribution registry ({@code docker-registry}, Debian's
 * package of github.com/docker/distribution 2.8), listening on a free port of 127.0.0.1 without TLS, storing
 * into a temporary directory. Optionally with HTTP Basic authentication ({@code auth.htpasswd}, a bcrypt entry
 * made here) and with blob GETs redirected (307) to another base URL (the {@code redirect} storage middleware,
 * as a registry behind a CDN is deployed).
 *
 * <p>Unlike registry.ollama.ai it answers {@code GET /v2/} (200, or 401 with auth), serves manifests with their
 * own content type and a Content-Length, refuses a manifest GET without a schema 2 {@code Accept} (400
 * MANIFEST_INVALID: it cannot convert an Ollama manifest to schema 1), and answers a blob GET with a plain
 * {@code 200} and no {@code Location}, which older Ollama builds cannot pull from (Ollama #7244).
 *
 * <p>Every request is in its access log ({@link #accessLog()}), which is how tests count upstream traffic.
 * {@link #close()} kills the process; use try-with-resources or a finally block.
 */
public final class DistributionRegistry implements AutoCloseable {
  private static final int START_ATTEMPTS = 3;

  private final Process process;
  private final int port;
  private final Path dir;
  private final Path stdout;
  private final Path stderr;
  private final String username;
  private final String password;
  /** Kills the process if the JVM exits without {@link #close()} (a test JVM killed at a timeout). */
  private final Thread shutdownHook;

  private DistributionRegistry(Process process, int port, Path dir, Path stdout, Path stderr, String username, String password) {
    this.process = process;
    this.port = port;
    this.dir = dir;
    this.stdout = stdout;
    this.stderr = stderr;
    this.username = username;
    this.password = password;
    this.shutdownHook = new Thread(process::destroyForcibly, "docker-registry-killer");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** An open registry (no auth, no redirect) storing under {@code dir}. */
  public static DistributionRegistry start(Path dir) {
    return builder().start(dir);
  }

  /**
   * The version {@code docker-registry --version} reports, e.g. {@code 2.8.2+ds1} from
   * {@code /usr/bin/docker-registry github.com/docker/distribution 2.8.2+ds1}.
   */
  public static String version(Path executable) {
    ProcessResult r = Tools.run(Duration.ofSeconds(20), executable.toString(), "--version");
    if (!r.succeeded()) {
      throw new IllegalStateException(r.describe());
    }
    String[] words = r.stdout().strip().split("\\s+");
    return words[words.length - 1];
  }

  /** {@code http://127.0.0.1:<port>}. */
  public String url() {
    return "http://127.0.0.1:" + port;
  }

  public int port() {
    return port;
  }

  public Optional<String> username() {
    return Optional.ofNullable(username);
  }

  public Optional<String> password() {
    return Optional.ofNullable(password);
  }

  /** The filesystem storage root ({@code docker/registry/v2/...} below it). */
  public Path storageDir() {
    return dir.resolve("storage");
  }

  /** A pusher with this registry's credentials, if any. */
  public RegistryPusher pusher() {
    return new RegistryPusher(url(), username, password);
  }

  /** Pushes {@code model} through the upload API; returns the manifest digest. Blocking. */
  public Digest push(FakeModel model) {
    return pusher().push(model);
  }

  /** Every request logged so far, in order. */
  public List<AccessLogEntry> accessLog() {
    List<AccessLogEntry> entries = new ArrayList<>();
    try {
      for (String line : Files.readAllLines(stdout, StandardCharsets.UTF_8)) {
        AccessLogEntry.parse(line).ifPresent(entries::add);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return entries;
  }

  /** Logged requests matching {@code filter}. */
  public List<AccessLogEntry> requests(Predicate<AccessLogEntry> filter) {
    return accessLog().stream().filter(filter).toList();
  }

  /** Body bytes the registry sent for blob {@code digest} (GETs answered 200 or 206). */
  public long blobBytesSent(Digest digest) {
    return requests(e -> e.isBlob(digest.toString()) && e.method().equals("GET") && (e.status() == 200 || e.status() == 206))
        .stream().mapToLong(AccessLogEntry::bytes).sum();
  }

  /**
   * Waits until the access log has not grown for {@code quiet} (at most 10 s) and returns it. The registry
   * writes a line after its response is complete, so a client can have every byte a moment before the line
   * appears; take this before comparing counts.
   */
  public List<AccessLogEntry> settledAccessLog(Duration quiet) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    long size = -1;
    long stableSince = System.nanoTime();
    while (System.nanoTime() < deadline) {
      long now;
      try {
        now = Files.size(stdout);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      if (now != size) {
        size = now;
        stableSince = System.nanoTime();
      } else if (System.nanoTime() - stableSince >= quiet.toNanos()) {
        break;
      }
      Thread.sleep(20);
    }
    return accessLog();
  }

  /** What the registry printed on stderr (its own log at level warn). */
  public String errorLog() {
    try {
      return Files.readString(stderr, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(unreadable: " + e + ")";
    }
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  @Override
  public void close() {
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException e) {
      // the JVM is shutting down: the hook runs anyway
    }
    process.destroy();
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public String toString() {
    return "docker-registry at " + url() + (username == null ? "" : " (htpasswd)");
  }

  /** Options of a registry to start. */
  public static final class Builder {
    private Path executable;
    private String username;
    private String password;
    private String redirectBaseUrl;
    private Duration startTimeout = Duration.ofSeconds(20);

    private Builder() {}

    /** The {@code docker-registry} binary; default: the one on the PATH. */
    public Builder executable(Path exe) {
      this.executable = exe;
      return this;
    }

    /** Turns on HTTP Basic authentication ({@code auth.htpasswd}) with this one user. */
    public Builder credentials(String user, String pass) {
      if (user.contains(":") || user.isEmpty()) {
        throw new IllegalArgumentException("htpasswd user names cannot be empty or contain ':'");
      }
      this.username = user;
      this.password = pass;
      return this;
    }

    /**
     * Answers blob GETs and HEADs with a 307 to {@code baseUrl} + the blob's storage path
     * ({@code docker/registry/v2/blobs/sha256/<2 hex>/<hex>/data}), through the {@code redirect} storage
     * middleware. Something must serve {@link #storageDir()} at that URL ({@link StorageFileServer}).
     */
    public Builder redirectBlobsTo(String baseUrl) {
      this.redirectBaseUrl = baseUrl.endsWith("/") ? baseUrl : baseUrl + "/";
      return this;
    }

    public Builder startTimeout(Duration d) {
      this.startTimeout = d;
      return this;
    }

    /**
     * Writes the configuration under {@code dir} and starts the registry; returns once it answers
     * {@code GET /v2/}. Retries on another port if the one picked was taken meanwhile.
     *
     * @throws IllegalStateException when it does not start (with its stderr)
     */
    public DistributionRegistry start(Path dir) {
      Path exe = executable != null ? executable : ExternalTool.DOCKER_REGISTRY.find()
          .orElseThrow(() -> new IllegalStateException("docker-registry is not on the PATH (Debian: apt-get install docker-registry)"));
      try {
        Files.createDirectories(dir.resolve("storage"));
        if (username != null) {
          Files.writeString(dir.resolve("htpasswd"), htpasswdLine(username, password) + "\n", StandardCharsets.UTF_8);
        }
        IllegalStateException last = null;
        for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
          int port = freePort();
          Path config = dir.resolve("config.yml");
          Files.writeString(config, config(dir, port), StandardCharsets.UTF_8);
          Path out = dir.resolve("access-" + attempt + ".log");
          Path err = dir.resolve("registry-" + attempt + ".log");
          Process p = new ProcessBuilder(exe.toString(), "serve", config.toString())
              .redirectOutput(out.toFile()).redirectError(err.toFile())
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
          DistributionRegistry r = new DistributionRegistry(p, port, dir, out, err, username, password);
          try {
            awaitReady(r);
            return r;
          } catch (IllegalStateException e) {
            r.close();
            last = e;
            if (!r.errorLog().contains("address already in use")) {
              throw e;
            }
          } catch (RuntimeException | Error e) {
            r.close();
            throw e;
          }
        }
        throw last;
      } catch (IOException e) {
        throw new UncheckedIOException("starting docker-registry in " + dir + ": " + e.getMessage(), e);
      }
    }

    private String config(Path dir, int port) {
      byte[] secret = new byte[16];
      new SecureRandom().nextBytes(secret);
      StringBuilder y = new StringBuilder()
          .append("version: 0.1\n")
          .append("log:\n  level: warn\n  formatter: text\n")
          .append("storage:\n  filesystem:\n    rootdirectory: ").append(quote(dir.resolve("storage"))).append('\n')
          .append("  maintenance:\n    uploadpurging:\n      enabled: false\n")
          .append("http:\n  addr: 127.0.0.1:").append(port).append('\n')
          .append("  secret: ").append(HexFormat.of().formatHex(secret)).append('\n');
      if (username != null) {
        y.append("auth:\n  htpasswd:\n    realm: pullmesh-test\n    path: ").append(quote(dir.resolve("htpasswd"))).append('\n');
      }
      if (redirectBaseUrl != null) {
        y.append("middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: ")
            .append(quote(redirectBaseUrl)).append('\n');
      }
      return y.toString();
    }

    private void awaitReady(DistributionRegistry r) {
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(2)).build();
      HttpRequest ping = HttpRequest.newBuilder(URI.create(r.url() + "/v2/")).timeout(Duration.ofSeconds(2)).GET().build();
      long deadline = System.nanoTime() + startTimeout.toNanos();
      while (System.nanoTime() < deadline) {
        if (!r.process.isAlive()) {
          throw new IllegalStateException("docker-registry exited with " + r.process.exitValue() + ": " + r.errorLog());
        }
        try {
          int status = http.send(ping, HttpResponse.BodyHandlers.discarding()).statusCode();
          if (status == 200 || status == 401) {
            return;
          }
        } catch (IOException e) {
          // not listening yet
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted while starting docker-registry", e);
        }
        try {
          Thread.sleep(50);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted while starting docker-registry", e);
        }
      }
      throw new IllegalStateException("docker-registry did not answer GET /v2/ within " + startTimeout + ": " + r.errorLog());
    }
  }

  /**
   * An htpasswd line with a bcrypt hash ({@code $2y$}, what {@code htpasswd -nbB} writes), at the lowest cost
   * Go accepts (4): the registry checks it on every request, so a test registry should not spend 50 ms on each.
   */
  public static String htpasswdLine(String user, String pass) {
    byte[] salt = new byte[16];
    new SecureRandom().nextBytes(salt);
    return user + ":" + OpenBSDBCrypt.generate("2y", pass.toCharArray(), salt, 4);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      return s.getLocalPort();
    }
  }

  /** A YAML double-quoted scalar. */
  private static String quote(Object value) {
    return "\"" + value.toString().replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }
}
