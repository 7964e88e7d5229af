package io.pullmesh.testkit.client;

import io.pullmesh.core.Digest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * Stands for {@code ollama serve} pulling a model: a faithful Java re-implementation of server/images.go
 * ({@code PullModel}) and server/download.go, so that a mirror's bugs surface exactly as they would for real
 * Ollama. Uses the JDK's {@link HttpClient} forced to HTTP/1.1 with redirects handled by hand.
 *
 * <p>{@link #pull}: GET the manifest ({@code Accept: application/vnd.docker.distribution.manifest.v2+json});
 * download each layer in order, then the config, each as below; then SHA-256 every blob that was not already
 * on disk, deleting a mismatching one and failing with "digest mismatch"; then write the manifest bytes as
 * received. Per blob: a file already at {@code blobs/sha256-<hex>} is a hit (not re-verified); else HEAD the blob
 * URL (redirects followed) and take the size from {@code Content-Length} only (none: 0 bytes, no parts, and the
 * check fails); split into parts of size/16 clamped to [min, max]; resolve the direct URL once ({@link
 * RedirectMode}); fetch up to 16 parts at once with {@code Range} GETs that never check for 206; 6 tries per
 * part with {@code base * 2^n} sleeps; a part with no new bytes for the stall timeout restarts without using a
 * try.
 *
 * <p>On disk, like {@code ~/.ollama/models}: {@code <dest>/blobs/sha256-<hex>} (while downloading also
 * {@code -partial} and {@code -partial-N} state files, so a later pull resumes) and
 * {@code <dest>/manifests/<host[:port]>/<namespace>/<model>/<tag>}.
 *
 * <p>Not reproduced: pruning of layers an older manifest used, progress reporting, the tensor (safetensors)
 * transfer path, and ed25519 request signing (a token request carries Basic credentials if configured).
 * Deviation: a part sleeping between tries stops early when another part has failed for good.
 *
 * <p>A client may run several pulls at once into different directories (unlike Ollama, it does not share one
 * download of a digest between concurrent pulls). Its thread pools are daemon threads, shut down by
 * {@link #close()}.
 */
public final class OllamaLikeClient implements AutoCloseable {
  private static final String ACCEPT_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";

  private final ClientOptions options;
  private final ExecutorService httpExecutor;
  private final ExecutorService partPool;
  private final ScheduledExecutorService watchdogs;
  private final HttpClient http;

  public OllamaLikeClient() {
    this(ClientOptions.defaults());
  }

  public OllamaLikeClient(ClientOptions options) {
    this.options = options;
    this.httpExecutor = Executors.newCachedThreadPool(Daemons.named("ollama-like-http"));
    this.partPool = Executors.newCachedThreadPool(Daemons.named("ollama-like-part"));
    this.watchdogs = Executors.newSingleThreadScheduledExecutor(Daemons.named("ollama-like-watchdog"));
    HttpClient.Builder b = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .followRedirects(HttpClient.Redirect.NEVER)
        .connectTimeout(options.connectTimeout)
        .executor(httpExecutor);
    if (options.proxySelector != null) {
      b.proxy(options.proxySelector);
    }
    if (options.sslContext != null) {
      b.sslContext(options.sslContext);
    }
    this.http = b.build();
  }

  public ClientOptions options() {
    return options;
  }

  /**
   * Pulls {@code name} from the registry at {@code baseUrl} into {@code dest}. Blocks until done.
   *
   * @param baseUrl e.g. {@code http://127.0.0.1:5000} (no trailing path)
   * @param name {@code [namespace/]model[:tag]}, e.g. {@code library/tiny:latest}
   * @param dest the models directory (created if missing)
   * @throws PullException with Ollama's message when the pull fails
   */
  public PullResult pull(String baseUrl, String name, Path dest) throws PullException {
    long started = options.ticker.nanos();
    ModelName model = ModelName.parse(name);
    URI base = URI.create(baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl);
    RegistryCalls calls = new RegistryCalls(http, options);
    List<BlobResult> results = new ArrayList<>();

    byte[] manifest;
    try {
      manifest = fetchManifest(calls, base, model);
    } catch (IOException e) {
      throw new PullException("pull model manifest: " + e.getMessage(), e, results);
    }
    List<Digest> blobs;
    try {
      blobs = blobsOf(manifest);
    } catch (RuntimeException e) {
      throw new PullException("pull model manifest: " + e.getMessage(), e, results);
    }

    Path blobDir = dest.resolve("blobs");
    try {
      Files.createDirectories(blobDir);
    } catch (IOException e) {
      throw new PullException(e.toString(), e, results);
    }
    for (Digest digest : blobs) {
      Path blobPath = blobDir.resolve("sha256-" + digest.hex());
      if (Files.exists(blobPath)) {
        results.add(new BlobResult(digest, size(blobPath), true, 0, 0, 0, 0, null, Duration.ZERO));
        continue;
      }
      URI blobUrl = URI.create(base + "/v2/" + model.repository() + "/blobs/" + digest);
      BlobDownload download = new BlobDownload(http, options, calls, partPool, watchdogs, blobUrl, digest, blobPath);
      try {
        results.add(download.run());
      } catch (IOException e) {
        results.add(download.partialResult());
        throw new PullException(e.getMessage(), e, results);
      }
    }

    for (BlobResult r : results) {
      if (r.cacheHit()) {
        continue;
      }
      Path blobPath = blobDir.resolve("sha256-" + r.digest().hex());
      Digest actual;
      try {
        actual = sha256(blobPath);
      } catch (IOException e) {
        throw new PullException(e.toString(), e, results);
      }
      if (!actual.equals(r.digest())) {
        try {
          Files.deleteIfExists(blobPath);
        } catch (IOException e) {
          // Ollama logs and goes on
        }
        throw new PullException("digest mismatch, file must be downloaded again: want " + r.digest() + ", got "
            + actual, null, results);
      }
    }

    Path manifestPath = dest.resolve("manifests").resolve(Redirects.host(base))
        .resolve(model.namespace()).resolve(model.model()).resolve(model.tag());
    try {
      Files.createDirectories(manifestPath.getParent());
      Files.write(manifestPath, manifest);
    } catch (IOException e) {
      throw new PullException(e.toString(), e, results);
    }
    return new PullResult(model, Digest.of(manifest), manifestPath, results,
        Duration.ofNanos(options.ticker.nanos() - started));
  }

  private static byte[] fetchManifest(RegistryCalls calls, URI base, ModelName model) throws IOException {
    URI uri = URI.create(base + "/v2/" + model.repository() + "/manifests/" + model.tag());
    HttpResponse<InputStream> resp =
        calls.requestWithRetry("GET", uri, Map.of("Accept", ACCEPT_MANIFEST), RegistryCalls.Follow.ALL);
    return RegistryCalls.body(resp);
  }

  /** Layers in order, then the config if it has a digest. */
  private static List<Digest> blobsOf(byte[] manifest) {
    JsonObject m = new JsonObject(new String(manifest, java.nio.charset.StandardCharsets.UTF_8));
    List<Digest> digests = new ArrayList<>();
    JsonArray layers = m.getJsonArray("layers", new JsonArray());
    for (int i = 0; i < layers.size(); i++) {
      digests.add(Digest.parse(layers.getJsonObject(i).getString("digest")));
    }
    JsonObject config = m.getJsonObject("config");
    if (config != null && config.getString("digest", "").length() > 0) {
      digests.add(Digest.parse(config.getString("digest")));
    }
    return digests;
  }

  private static long size(Path p) {
    try {
      return Files.size(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Digest sha256(Path file) throws IOException {
    MessageDigest md = sha256();
    byte[] buf = new byte[256 * 1024];
    try (InputStream in = Files.newInputStream(file)) {
      for (int r = in.read(buf); r >= 0; r = in.read(buf)) {
        md.update(buf, 0, r);
      }
    }
    return Digest.ofBytes(md.digest());
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Stops the client's threads; pulls in progress fail. */
  @Override
  public void close() {
    partPool.shutdownNow();
    watchdogs.shutdownNow();
    httpExecutor.shutdownNow();
  }

}
