package io.pullmesh.testkit.client;

import io.pullmesh.core.Digest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * Stands for {@code ollama serve} pulling a tensor (safetensors, MLX) model: a Java re-implementation of Ollama's
 * x/transfer download path, so a mirror's behaviour toward it can be tested. Read from ollama/ollama at commit
 * {@code fb30760996871fa9460115c753afd2c60d4ab0f7}; line numbers below are from that commit (DL =
 * x/transfer/download.go, TR = x/transfer/transfer.go, IM = server/images.go). JDK {@link HttpClient} forced to
 * HTTP/1.1, redirects by hand, daemon threads.
 *
 * <h2>{@link #pull}: server/images.go</h2>
 * <ul>
 *   <li>Manifest: {@code GET <base>/v2/<namespace>/<model>/manifests/<tag>} with only {@code Accept:
 *       application/vnd.docker.distribution.manifest.v2+json} and {@code User-Agent: ollama/<v> (<arch> <os>)
 *       Go/<v>} (IM:1272-1294, IM:1392), Go's default redirect policy, via {@code makeRequestWithRetry}
 *       (IM:1309-1353): a 401 fetches a token (the realm must be on the same host:port, server/auth.go:59-62) and
 *       tries once more; 404 fails "file does not exist"; other statuses >= 400 fail {@code "<status>: <body>"},
 *       body verbatim. Failures are prefixed {@code pull model manifest: } (IM:1025).
 *   <li>The layers, then the config (IM:1034-1038), go to x/transfer with the manifest's sizes only when one of
 *       them has media type {@code application/vnd.ollama.image.tensor} (IM:1041, IM:1128-1135); otherwise real
 *       Ollama uses server/download.go ({@link OllamaLikeClient}) and this client refuses (see
 *       {@link XTransferOptions.Builder#requireTensorLayers}).
 *   <li>The token the manifest step got is the download's starting token (IM:1187, IM:1330); names are not
 *       lower-cased (types/model/name.go has no ToLower).
 *   <li>After the blobs, the manifest bytes are written as received to
 *       {@code <dest>/manifests/<host[:port]>/<namespace>/<model>/<tag>} (IM:1194-1207): no final hash pass, no
 *       pruning.
 * </ul>
 *
 * <h2>{@link #download}: x/transfer</h2>
 * <ul>
 *   <li>Blobs whose {@code <dir>/sha256-<hex>} already has the declared size are skipped, not hashed (DL:105-114).
 *   <li>At most {@code concurrency} (64) blobs at once (DL:138-150) and at most {@code bodyConcurrency} (Ollama
 *       passes {@code OLLAMA_MAX_TRANSFER_STREAMS}, default 4; IM:1185, DL:136) holding a body slot, which is
 *       taken BEFORE the resolve step and kept until the blob body is closed (DL:222-228). The first blob to fail
 *       cancels the others (errgroup, DL:142-152).
 *   <li>Per blob (DL:166-215): up to 6 counted attempts; before attempt k &gt; 0 a sleep of
 *       min(k² × 10 ms, 1 s &lt;&lt; (k-1)) × U[0.5, 1.5) (TR:219-236); after a failure a blob under 64 MiB loses
 *       its {@code .tmp}; "download stalled" is not counted; "download too slow" counts from the third on; then
 *       {@code max retries exceeded: <last error>} (DL:214).
 *   <li>Attempt (DL:217-281): resolve {@code <base>/v2/<repo>/blobs/<digest>}; if size &gt;= 64 MiB (TR:112) and
 *       a smaller {@code .tmp} exists, send {@code Range: bytes=<its size>-} (a bigger one is deleted, an
 *       equal-size one is ignored and overwritten); GET with {@code User-Agent: ollama-transfer/1.0}
 *       (TR:108), {@code Authorization} only when the URL's host:port equals the base's (DL:254-259); 200 restarts
 *       from byte 0, 206 appends (Content-Range unchecked), anything else is {@code status N}.
 *   <li>Resolve (DL:397-440): GET (not HEAD), up to 10 times, with the token if any and no Range; every body is
 *       read to the end and discarded (DL:414-416), then: 200 returns the same URL, which the attempt then GETs
 *       AGAIN (a registry serving blobs itself costs twice the bytes); 401 refreshes the token (coalesced,
 *       DL:62-77; x/transfer's own challenge parser, TR:180-216); 307/302/301 whose Location's host:port differs
 *       from the current URL's (Go {@code url.Host}, exact string: another port or an explicit {@code :443}
 *       counts as another host) is returned without being requested, same host:port is followed; 303, 308 and
 *       anything else are {@code status N}; 10 hops are {@code too many redirects}.
 *   <li>Save (DL:283-338): {@code <dir>/sha256-<hex>.tmp}; a resume re-hashes the kept prefix; 32 KiB reads
 *       written and SHA-256-hashed inline (DL:340-395); then {@code digest mismatch}, then {@code size mismatch}
 *       (both delete the {@code .tmp}); then rename.
 *   <li>Watchdog (DL:349-369): every 1 s; no byte for more than the stall timeout (10 s, DL:468) is
 *       {@code download stalled}; after 5 s, below 10% of the median speed of the last 30 finished blobs of at
 *       least 100 KiB (needs 5; DL:181-188, DL:442-466) is {@code download too slow}. It cancels a context the
 *       request does not use, so a read blocked on a silent connection stays blocked until bytes or EOF arrive;
 *       and the deferred drain (DL:268) then reads the rest of that body.
 *   <li>The x/transfer HTTP client has no proxy (TR:122-131): resolve and blob GETs never use
 *       {@link XTransferOptions.Builder#registryProxy}; manifest and token requests do.
 *   <li>Headers Go adds: {@code Accept-Encoding: gzip} on GETs without Range, undone transparently; sent here too.
 * </ul>
 *
 * <h2>Counting</h2>
 * {@link XTransferBlobResult#bytesReceived()} counts every response body byte read off the wire for a blob, the
 * drained resolve bodies included.
 *
 * <h2>Not reproduced</h2>
 * Progress callbacks and the {@code sha256:model} progress digest; the MLX-runtime check (IM:1027-1032); the
 * insecure-scheme check and {@code --insecure} (the base URL's scheme is used as given); ed25519 request signing
 * (a token request carries Basic credentials if configured, else a dummy header); HTTP/2, which Go negotiates over
 * TLS; Go's zero dial/TLS timeouts (a connect timeout applies here); sparse files (Windows only, TR setSparse);
 * the exact wording of network errors ({@code Get "<url>": <Java exception>}); cancelling a request still waiting
 * for its response headers (only bodies are aborted when another blob fails). Where real Ollama panics (a 3xx
 * without a usable Location, DL:430-431, which kills {@code ollama serve}) the download fails with a
 * {@code panic: ...} message instead. Two manifest entries with one digest are downloaded concurrently into the
 * same {@code .tmp}, as in Go.
 */
public final class XTransferLikeClient implements AutoCloseable {
  static final String ACCEPT_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
  static final String MEDIA_TYPE_TENSOR = io.pullmesh.testkit.model.MediaTypes.TENSOR;

  private final XTransferOptions options;
  private final ExecutorService httpExecutor;
  private final ScheduledExecutorService watchdogs;
  private final HttpClient transferHttp;
  private final HttpClient registryHttp;

  public XTransferLikeClient() {
    this(XTransferOptions.defaults());
  }

  public XTransferLikeClient(XTransferOptions options) {
    this.options = options;
    this.httpExecutor = Executors.newCachedThreadPool(Daemons.named("xtransfer-http"));
    this.watchdogs = Executors.newSingleThreadScheduledExecutor(Daemons.named("xtransfer-watchdog"));
    HttpClient.Builder t = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .followRedirects(HttpClient.Redirect.NEVER)
        .connectTimeout(options.connectTimeout)
        .proxy(HttpClient.Builder.NO_PROXY)
        .executor(httpExecutor);
    HttpClient.Builder r = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .followRedirects(HttpClient.Redirect.NEVER)
        .connectTimeout(options.connectTimeout)
        .executor(httpExecutor);
    if (options.registryProxy != null) {
      r.proxy(options.registryProxy);
    }
    if (options.sslContext != null) {
      t.sslContext(options.sslContext);
      r.sslContext(options.sslContext);
    }
    this.transferHttp = t.build();
    this.registryHttp = r.build();
  }

  public XTransferOptions options() {
    return options;
  }

  /**
   * {@code transfer.Download}: downloads {@code blobs} of {@code repository} from the registry at {@code baseUrl}
   * into {@code blobDir} as {@code sha256-<hex>}, with no token to start with. Blocks until done.
   *
   * @param baseUrl e.g. {@code http://127.0.0.1:5000}, used verbatim as Go does ({@code %s/v2/%s/blobs/%s})
   * @param repository e.g. {@code library/tiny}; empty means {@code library/_} (DL:126)
   * @throws XTransferException with x/transfer's message, e.g. {@code max retries exceeded: digest mismatch}
   */
  public XTransferResult download(String baseUrl, String repository, List<XTransferBlob> blobs, Path blobDir)
      throws XTransferException {
    long started = options.ticker.nanos();
    XTransferAuth auth = new XTransferAuth(registryHttp, options);
    List<XTransferDownload.BlobState> states =
        new XTransferDownload(transferHttp, options, auth, baseUrl, repository, blobDir, watchdogs).run(blobs);
    long now = options.ticker.nanos();
    return new XTransferResult(states.stream().map(s -> s.result(now)).toList(), null, null,
        Duration.ofNanos(now - started));
  }

  /**
   * Pulls a tensor model the way {@code PullModel} + {@code pullWithTransfer} do. Blocks until done.
   *
   * @param baseUrl {@code scheme://host[:port]} of the registry (the name's host in real Ollama)
   * @param name {@code [namespace/]model[:tag]}, namespace {@code library} and tag {@code latest} by default, case
   *     kept
   * @param dest the models directory: blobs go to {@code <dest>/blobs}, the manifest under {@code <dest>/manifests}
   * @throws XTransferException with Ollama's message, e.g. {@code pull model manifest: 412: <body>}
   */
  public XTransferResult pull(String baseUrl, String name, Path dest) throws XTransferException {
    long started = options.ticker.nanos();
    ModelName n = parseName(name);
    String base = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
    String repository = n.repository();
    XTransferAuth auth = new XTransferAuth(registryHttp, options);

    byte[] manifest;
    List<XTransferBlob> blobs = new ArrayList<>();
    boolean tensor = false;
    try {
      manifest = auth.getManifest(URI.create(base + "/v2/" + repository + "/manifests/" + n.tag()), ACCEPT_MANIFEST);
      JsonObject m = new JsonObject(new String(manifest, StandardCharsets.UTF_8));
      JsonArray layers = m.getJsonArray("layers", new JsonArray());
      List<JsonObject> all = new ArrayList<>();
      for (int i = 0; i < layers.size(); i++) {
        all.add(layers.getJsonObject(i));
      }
      JsonObject config = m.getJsonObject("config", new JsonObject());
      if (!config.getString("digest", "").isEmpty()) {
        all.add(config);
      }
      for (JsonObject l : all) {
        blobs.add(new XTransferBlob(Digest.parse(l.getString("digest")), l.getLong("size", 0L)));
        tensor |= MEDIA_TYPE_TENSOR.equals(l.getString("mediaType"));
      }
    } catch (IOException | RuntimeException e) {
      throw new XTransferException("pull model manifest: " + e.getMessage(), e, List.of());
    }
    if (!tensor && options.requireTensorLayers) {
      throw new XTransferException("no " + MEDIA_TYPE_TENSOR + " layer: Ollama pulls " + name
          + " with server/download.go, not x/transfer (use OllamaLikeClient)", null, List.of());
    }

    List<XTransferDownload.BlobState> states = new XTransferDownload(transferHttp, options, auth, base,
        repository, dest.resolve("blobs"), watchdogs).run(blobs);
    long now = options.ticker.nanos();
    List<XTransferBlobResult> results = states.stream().map(s -> s.result(now)).toList();

    Path manifestPath = dest.resolve("manifests").resolve(Redirects.host(URI.create(base)))
        .resolve(n.namespace()).resolve(n.model()).resolve(n.tag());
    try {
      Files.createDirectories(manifestPath.getParent());
      Files.write(manifestPath, manifest);
    } catch (IOException e) {
      throw new XTransferException(e.toString(), e, results);
    }
    return new XTransferResult(results, Digest.of(manifest), manifestPath,
        Duration.ofNanos(options.ticker.nanos() - started));
  }

  /**
   * {@code [namespace/]model[:tag]} as types/model/name.go's ParseName splits it (tag after the last ':' that
   * follows the last '/'), with its defaults and part rules (isValidPart), and no lower-casing.
   */
  static ModelName parseName(String text) {
    if (text == null || text.isBlank()) {
      throw new IllegalArgumentException("model name: empty (expected: [namespace/]model[:tag])");
    }
    String rest = text;
    String tag = "latest";
    if (rest.lastIndexOf(':') > rest.lastIndexOf('/')) {
      tag = rest.substring(rest.lastIndexOf(':') + 1);
      rest = rest.substring(0, rest.lastIndexOf(':'));
    }
    String[] parts = rest.split("/", -1);
    if (parts.length > 2) {
      throw new IllegalArgumentException("model name: " + text + " (expected [namespace/]model[:tag]: the host is "
          + "the base URL)");
    }
    String namespace = parts.length == 2 ? parts[0] : "library";
    String model = parts[parts.length - 1];
    if (!validPart(namespace, false) || !validPart(model, true) || !validPart(tag, true)) {
      throw new IllegalArgumentException("model name: " + text + " (invalid part)");
    }
    return new ModelName(namespace, model, tag);
  }

  /** name.go isValidPart: 1-80 chars, first alphanumeric or '_', then also '-', and '.' except in a namespace. */
  private static boolean validPart(String s, boolean dotAllowed) {
    if (s.isEmpty() || s.length() > 80) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
      if (!alnum && (i == 0 || !(c == '-' || (c == '.' && dotAllowed)))) {
        return false;
      }
    }
    return true;
  }


  /** Stops the client's threads; downloads in progress fail. */
  @Override
  public void close() {
    watchdogs.shutdownNow();
    httpExecutor.shutdownNow();
  }

}
