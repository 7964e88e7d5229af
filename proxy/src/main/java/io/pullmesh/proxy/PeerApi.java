package io.pullmesh.proxy;

import io.pullmesh.core.ByteRange;
import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RangeHeader;
import io.pullmesh.core.RegistryException;
import io.pullmesh.fetch.BlobDownload;
import io.pullmesh.mesh.MeshPeers;
import io.pullmesh.mesh.PeerTokens;
import io.pullmesh.metrics.MetricsRecorder;
import io.pullmesh.store.ManifestRecord;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import java.util.logging.Logger;

/**
 * The peer API: everything this node serves to the other nodes of its mesh, each request with a {@link PeerTokens}
 * token for what it asks (a host without the mesh secret gets nothing).
 *
 * <ul>
 *   <li>{@code GET|HEAD /mesh/v1/blobs/sha256:<hex>}: a committed blob, re-hashed once before this node first serves it
 *       to a peer (bit rot must not spread), whole or one range by sendfile (206 with Content-Range; 416 for a range it
 *       cannot satisfy); else a range of this node's download of it in progress, streamed as its bytes arrive and not
 *       held back for the digest check (the peer checks every byte itself); else 404, and the peer goes elsewhere.
 *       401 without a token, 403 for a bad one.
 *   <li>{@code GET /mesh/v1/manifests/<repository>/<tag|digest>}: a manifest from this node's cache, for a peer that
 *       cannot reach upstream; never fetched upstream for it.
 * </ul>
 *
 * Not for clients' requests ({@link Routes}), nor for asking peers ({@link MeshPeers}, the other side of this API).
 */
final class PeerApi {
  private static final Logger LOG = Logger.getLogger(PeerApi.class.getName());

  /** A committed blob's file fit to serve to a peer, verified; empty when there is none. Never blocks the caller. */
  @FunctionalInterface
  interface Committed {
    CompletionStage<Optional<Path>> verified(Digest d);
  }

  /** A manifest in this node's cache by repository and tag or digest; blocking (an index read). */
  @FunctionalInterface
  interface Manifests {
    Optional<ManifestRecord> find(String repository, String reference);
  }

  /** Writes a source's bytes as the answer to a (ranged) GET: {@link BlobHandler#serveSource}. */
  @FunctionalInterface
  interface Sender {
    void send(Exchange ex, ByteSource source, long size, String range, Digest digest, MetricsRecorder.Source tag);
  }

  private final Vertx vertx;
  private final PeerTokens tokens;
  private final Committed committed;
  private final Function<Digest, BlobDownload> inFlight;
  private final Sender sender;
  private final Manifests manifests;
  private final MetricsRecorder metrics;

  /**
   * @param inFlight this node's download of a digest in progress, or null
   */
  PeerApi(Vertx vertx, PeerTokens tokens, Committed committed, Function<Digest, BlobDownload> inFlight, Sender sender,
      Manifests manifests, MetricsRecorder metrics) {
    this.vertx = vertx;
    this.tokens = tokens;
    this.committed = committed;
    this.inFlight = inFlight;
    this.sender = sender;
    this.manifests = manifests;
    this.metrics = metrics;
  }

  /** Whether {@code path} is the peer API's. */
  static boolean handles(String path) {
    return path.startsWith(MeshPeers.BLOBS) || path.startsWith(MeshPeers.MANIFESTS);
  }

  /** Answers a request whose path {@link #handles}; on the request's event loop. */
  void handle(Exchange ex) {
    String path = ex.request.path();
    if (path.startsWith(MeshPeers.BLOBS)) {
      serveBlob(ex);
      return;
    }
    try {
      serveManifest(ex.request, path.substring(MeshPeers.MANIFESTS.length()));
    } catch (RegistryException e) {
      Responses.error(ex.response, e, ex.request.method() == HttpMethod.HEAD);
    }
  }

  private void serveBlob(Exchange ex) {
    HttpServerRequest req = ex.request;
    HttpServerResponse resp = req.response();
    if (req.method() != HttpMethod.GET && req.method() != HttpMethod.HEAD) {
      text(resp, 405, "peers only GET or HEAD blobs");
      return;
    }
    Digest digest;
    try {
      digest = Digest.parse(req.path().substring(MeshPeers.BLOBS.length()));
    } catch (IllegalArgumentException e) {
      text(resp, 400, e.getMessage());
      return;
    }
    String auth = req.getHeader("Authorization");
    if (auth == null) {
      resp.putHeader("WWW-Authenticate", PeerTokens.SCHEME);
      text(resp, 401, "a " + PeerTokens.SCHEME + " token is required");
      return;
    }
    String peer;
    try {
      peer = tokens.verify(auth, digest);
    } catch (SecurityException e) {
      LOG.warning(() -> "refused a peer request for " + digest.shortHex() + " from " + req.remoteAddress() + ": " + e.getMessage());
      text(resp, 403, e.getMessage());
      return;
    }
    // the check before a first peer serve may hash the whole blob: this request waits on it holding no thread
    Future.fromCompletionStage(committed.verified(digest), vertx.getOrCreateContext())
        .compose(p -> p.isEmpty() ? Future.<Found>succeededFuture(null)
            : vertx.executeBlocking(() -> new Found(p.get(), Files.size(p.get())), false))
        .onComplete(ar -> {
          if (ar.failed() || ar.result() == null) {
            if (!servePartial(ex, digest)) {
              text(resp, 404, "this node does not hold " + digest);
            }
            return;
          }
          serveCommitted(req, digest, ar.result(), peer);
        });
  }

  private record Found(Path path, long size) {}

  private void serveCommitted(HttpServerRequest req, Digest digest, Found f, String peer) {
    HttpServerResponse resp = req.response();
    resp.putHeader("Docker-Content-Digest", digest.toString()).putHeader("Accept-Ranges", "bytes")
        .putHeader("Content-Type", "application/octet-stream");
    RangeHeader.Result r = RangeHeader.evaluate(req.getHeader("Range"), f.size());
    ByteRange send;
    if (r instanceof RangeHeader.Whole) {
      resp.setStatusCode(200);
      send = f.size() == 0 ? null : new ByteRange(0, f.size() - 1);
    } else if (r instanceof RangeHeader.Partial p && p.isSingle()) {
      send = p.ranges().get(0);
      resp.setStatusCode(206).putHeader("Content-Range", send.contentRange(f.size()));
    } else {
      resp.putHeader("Content-Range", "bytes */" + f.size());
      text(resp, 416, "peers serve one satisfiable range at a time");
      return;
    }
    long length = send == null ? 0 : send.length();
    resp.putHeader("Content-Length", Long.toString(length));
    if (req.method() == HttpMethod.HEAD || send == null) {
      resp.end();
      return;
    }
    LOG.fine(() -> "serving " + digest.shortHex() + " " + send + " to peer " + peer);
    resp.sendFile(f.path().toString(), send.first(), length).onSuccess(v -> metrics.peerServedBytes(length));
  }

  /**
   * Serves the peer from this node's download of {@code digest} in progress: the range streams from the partial copy
   * as its bytes arrive, and the response ends as soon as its last byte is sent, not held back until the whole blob
   * verified: the peer verifies every byte it gets itself before it commits or serves anything as complete.
   *
   * @return false, having sent nothing, when no download of {@code digest} runs here
   */
  private boolean servePartial(Exchange ex, Digest digest) {
    BlobDownload download = inFlight.apply(digest);
    if (download == null) {
      return false;
    }
    HttpServerResponse resp = ex.response;
    String range = ex.request.getHeader("Range");
    download.ready().onComplete(ar -> {
      BlobDownload.Reader reader;
      try {
        reader = ar.succeeded() ? download.tryOpenReader() : null;
      } catch (RegistryException e) {
        reader = null;
      }
      if (reader == null) {
        // failed, or committed in the meantime: the peer asks again and finds the committed file (or goes elsewhere)
        resp.setStatusCode(503).putHeader("Retry-After", "1").putHeader("Content-Type", "text/plain; charset=utf-8")
            .end("pullmesh mesh: the download of " + digest + " here just ended; ask again\n");
        return;
      }
      ByteSource source = ByteSource.of(reader, Future.succeededFuture());
      if (resp.closed()) {
        source.close();
        return;
      }
      resp.putHeader("Docker-Content-Digest", digest.toString()).putHeader("Accept-Ranges", "bytes").putHeader("X-Pullmesh-Cache", "partial");
      if (ex.request.method() == HttpMethod.HEAD) {
        source.close();
        resp.putHeader("Content-Length", Long.toString(download.size())).setStatusCode(200).end();
        return;
      }
      sender.send(ex, source, download.size(), range, digest, MetricsRecorder.Source.PEER);
    });
    return true;
  }

  /** {@code rest}: {@code <repository>/<tag or digest>}. A token for that very name is required. */
  private void serveManifest(HttpServerRequest req, String rest) {
    HttpServerResponse resp = req.response();
    int slash = rest.lastIndexOf('/');
    if (slash <= 0) {
      throw new RegistryException(ErrorCode.NOT_FOUND, "expected /mesh/v1/manifests/<repository>/<tag or digest>");
    }
    String repo = rest.substring(0, slash);
    String reference = rest.substring(slash + 1);
    try {
      tokens.verify(String.valueOf(req.getHeader("Authorization")), MeshPeers.manifestKey(repo, reference));
    } catch (SecurityException e) {
      LOG.warning(() -> "refused a peer manifest request from " + req.remoteAddress() + ": " + e.getMessage());
      throw new RegistryException(ErrorCode.DENIED, e.getMessage());
    }
    vertx.executeBlocking(() -> manifests.find(repo, reference), false).onComplete(ar -> {
      if (ar.failed() || ar.result().isEmpty()) {
        Responses.error(resp, new RegistryException(ErrorCode.MANIFEST_UNKNOWN, "this node has no " + repo + ":" + reference + " in its cache"), false);
        return;
      }
      ManifestRecord m = ar.result().get();
      resp.putHeader("Content-Type", m.contentType()).putHeader("Docker-Content-Digest", m.digest().toString())
          .end(Buffer.buffer(m.bytes()));
    });
  }

  private static void text(HttpServerResponse resp, int status, String message) {
    resp.setStatusCode(status).putHeader("Content-Type", "text/plain; charset=utf-8").end("pullmesh mesh: " + message + "\n");
  }
}
