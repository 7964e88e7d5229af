package io.pullmesh.mesh;

import io.pullmesh.core.ByteRange;
import io.pullmesh.core.Digest;
import io.pullmesh.core.RangeHeader;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Function;
import java.util.logging.Logger;

/**
 * The peer data plane: {@code GET|HEAD /mesh/v1/blobs/sha256:<hex>} serves a committed blob to another node of the
 * mesh, whole or one byte range (206 with Content-Range; 416 for a range it cannot satisfy), by sendfile. Every
 * request must carry a {@link PeerTokens} token for that very digest (401 otherwise, 403 for a bad one): a host
 * without the mesh secret gets nothing. Only committed, verified blobs are served; a blob this node does not hold
 * is 404, so the asking node goes elsewhere.
 */
public final class PeerBlobServer {
  /** The path prefix of the peer data plane. */
  public static final String PREFIX = "/mesh/v1/blobs/";
  private static final Logger LOG = Logger.getLogger(PeerBlobServer.class.getName());

  private final Vertx vertx;
  private final PeerTokens tokens;
  private final Function<Digest, Optional<Path>> committed;
  private final Partials partials;
  private final io.pullmesh.metrics.MetricsRecorder metrics;

  /** Serves a range of a blob this node is fetching now, from its partial copy. */
  @FunctionalInterface
  public interface Partials {
    /**
     * Answers {@code req} (a GET or HEAD whose token was checked) from the download of {@code digest} in progress.
     *
     * @return false, having sent nothing, when no download of it runs here
     */
    boolean serve(HttpServerRequest req, Digest digest);
  }

  /**
   * @param committed the file of a committed blob, if this node has one (called on a worker thread)
   */
  public PeerBlobServer(Vertx vertx, PeerTokens tokens, Function<Digest, Optional<Path>> committed) {
    this(vertx, tokens, committed, (req, d) -> false, io.pullmesh.metrics.MetricsRecorder.noop());
  }

  /**
   * @param partials serves blobs still arriving (on the event loop)
   */
  public PeerBlobServer(Vertx vertx, PeerTokens tokens, Function<Digest, Optional<Path>> committed, Partials partials,
      io.pullmesh.metrics.MetricsRecorder metrics) {
    this.vertx = vertx;
    this.tokens = tokens;
    this.committed = committed;
    this.partials = partials;
    this.metrics = metrics;
  }

  /** Whether this server answers {@code path}. */
  public static boolean handles(String path) {
    return path.startsWith(PREFIX);
  }

  public void handle(HttpServerRequest req) {
    handle(req, partials);
  }

  /** As {@link #handle(HttpServerRequest)}, with blobs still arriving served by {@code partials}. */
  public void handle(HttpServerRequest req, Partials partials) {
    HttpServerResponse resp = req.response();
    if (req.method() != HttpMethod.GET && req.method() != HttpMethod.HEAD) {
      text(resp, 405, "peers only GET or HEAD blobs");
      return;
    }
    Digest digest;
    try {
      digest = Digest.parse(req.path().substring(PREFIX.length()));
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
    String range = req.getHeader("Range");
    vertx.executeBlocking(() -> {
      Optional<Path> p = committed.apply(digest);
      return p.isPresent() ? new Found(p.get(), Files.size(p.get())) : null;
    }, false).onComplete(ar -> {
      if (ar.failed() || ar.result() == null) {
        if (!partials.serve(req, digest)) {
          text(resp, 404, "this node does not hold " + digest);
        }
        return;
      }
      Found f = ar.result();
      resp.putHeader("Docker-Content-Digest", digest.toString()).putHeader("Accept-Ranges", "bytes")
          .putHeader("Content-Type", "application/octet-stream");
      RangeHeader.Result r = RangeHeader.evaluate(range, f.size());
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
    });
  }

  private record Found(Path path, long size) {}

  private static void text(HttpServerResponse resp, int status, String message) {
    resp.setStatusCode(status).putHeader("Content-Type", "text/plain; charset=utf-8").end("pullmesh mesh: " + message + "\n");
  }
}
