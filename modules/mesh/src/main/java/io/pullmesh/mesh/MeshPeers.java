package io.pullmesh.mesh;

import io.pullmesh.core.ByteRange;
import io.pullmesh.core.Digest;
import io.pullmesh.fetch.ContentRange;
import io.pullmesh.fetch.PeerNetwork;
import io.pullmesh.fetch.UpstreamException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.time.Clock;
import java.time.Duration;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * The mesh as a source of pieces ({@link PeerNetwork}), on a node's own Vert.x: index lookups go to {@link Mesh} on
 * worker threads, and ranged reads go to peers' data planes over HTTP with a {@link PeerTokens} token each.
 *
 * <p>A peer that failed or lied is banned on this node for {@link #BAN}; {@link #view} leaves banned peers out.
 */
public final class MeshPeers implements PeerNetwork {
  private static final Logger LOG = Logger.getLogger(MeshPeers.class.getName());
  /** How long a penalised peer is left alone. */
  static final Duration BAN = Duration.ofMinutes(5);

  private final Vertx vertx;
  private final Mesh mesh;
  private final PeerTokens tokens;
  private final Clock clock;
  private final HttpClient client;
  private final Duration waitForHeaders;
  private final Map<String, Long> bannedUntil = new ConcurrentHashMap<>();
  private final Map<String, String> urls = new ConcurrentHashMap<>();
  private final java.util.concurrent.ExecutorService writer = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "pullmesh-mesh-index");
    t.setDaemon(true);
    return t;
  });

  /**
   * @param vertx the node's Vert.x (where downloads run), not the mesh's clustered one
   * @param waitForHeaders how long a peer may take to start answering (a peer still fetching the range from upstream
   *     answers once it has the first byte)
   */
  public MeshPeers(Vertx vertx, Mesh mesh, PeerTokens tokens, Clock clock, Duration connectTimeout, Duration waitForHeaders) {
    this.vertx = vertx;
    this.mesh = mesh;
    this.tokens = tokens;
    this.clock = clock;
    this.waitForHeaders = waitForHeaders;
    this.client = vertx.createHttpClient(new HttpClientOptions().setConnectTimeout((int) connectTimeout.toMillis())
        .setKeepAlive(true).setTcpNoDelay(true)
        // bodies in pieces as big as a socket read, not Netty's 8 KiB default (as UpstreamRegistry)
        .setMaxChunkSize(64 << 10),
        new PoolOptions().setHttp1MaxSize(64));
  }

  @Override
  public String self() {
    return mesh.node();
  }

  private Set<String> banned() {
    long now = clock.millis();
    Set<String> out = new HashSet<>();
    bannedUntil.entrySet().removeIf(e -> e.getValue() <= now);
    out.addAll(bannedUntil.keySet());
    return out;
  }

  @Override
  public Future<View> view(Digest digest) {
    Set<String> skip = banned();
    return vertx.executeBlocking(() -> mesh.viewNow(digest, skip), false);
  }

  @Override
  public Future<String> claim(Digest digest) {
    Set<String> skip = banned();
    return vertx.executeBlocking(() -> mesh.claimNow(digest, skip), false);
  }

  @Override
  public void release(Digest digest) {
    background(() -> mesh.releaseNow(digest), "releasing the claim on " + digest.shortHex());
  }

  @Override
  public void publishProgress(Digest digest, long size, int pieceSize, BitSet done) {
    Mesh.Progress p = new Mesh.Progress(size, pieceSize, (BitSet) done.clone());
    background(() -> mesh.progressNow(digest, p), "publishing progress on " + digest.shortHex());
  }

  @Override
  public void dropProgress(Digest digest) {
    background(() -> mesh.dropProgressNow(digest), "dropping progress on " + digest.shortHex());
  }

  @Override
  public void committed(Digest digest, long size) {
    background(() -> {
      mesh.announceNow(digest, size);
      mesh.releaseNow(digest);
      mesh.dropProgressNow(digest);
    }, "announcing " + digest.shortHex());
  }

  @Override
  public void publishPieceHashes(Digest digest, PieceHashes hashes) {
    background(() -> mesh.piecesNow(digest, hashes), "publishing the piece hashes of " + digest.shortHex());
  }

  @Override
  public void penalise(String node, String reason) {
    long now = clock.millis();
    Long before = bannedUntil.put(node, now + BAN.toMillis());
    if (before != null && before > now) {
      return; // already banned (connections that fail together each report it)
    }
    LOG.warning(() -> "peer " + node + " (" + urls.getOrDefault(node, "?") + ") " + reason + "; not asking it for "
        + BAN.toMinutes() + " minutes");
  }

  /** Whether {@code node} is banned now (tests, status). */
  public boolean isBanned(String node) {
    Long until = bannedUntil.get(node);
    return until != null && until > clock.millis();
  }

  @Override
  public Future<HttpClientResponse> openRange(String node, Digest digest, ByteRange range) {
    String known = urls.get(node);
    Future<String> url = known != null ? Future.succeededFuture(known) : vertx.executeBlocking(() -> {
      String u = mesh.urlOf(node);
      if (u == null) {
        throw new UpstreamException(UpstreamException.Kind.RETRYABLE, 0, "peer " + node + " has left the mesh");
      }
      urls.put(node, u);
      return u;
    }, false);
    String what = "peer " + node + " blob " + digest.shortHex() + " bytes " + range;
    return url.compose(base -> {
      RequestOptions o = new RequestOptions().setMethod(HttpMethod.GET).setAbsoluteURI(base + BLOBS + digest)
          .putHeader("Range", range.rangeHeader()).putHeader("Authorization", tokens.issue(mesh.node(), digest))
          .setIdleTimeout(waitForHeaders.toMillis());
      return client.request(o).compose(req -> req.send()).compose(resp -> {
        resp.pause();
        if (resp.statusCode() == 206) {
          if (ContentRange.of(resp.getHeader("Content-Range")).filter(r -> r.first() == range.first() && r.last() == range.last()).isPresent()) {
            return Future.succeededFuture(resp);
          }
        }
        resp.request().reset();
        return Future.failedFuture(new UpstreamException(UpstreamException.Kind.RETRYABLE, resp.statusCode(),
            what + ": peer answered " + resp.statusCode() + " " + resp.getHeader("Content-Range")));
      });
    }).recover(t -> Future.failedFuture(t instanceof UpstreamException ? t : UpstreamException.classify(t, what)));
  }

  /** The path prefix peers answer blobs on: {@code /mesh/v1/blobs/sha256:<hex>}, whole or one range. */
  public static final String BLOBS = "/mesh/v1/blobs/";

  /** The path prefix peers answer manifests on, from their own cache only. */
  public static final String MANIFESTS = "/mesh/v1/manifests/";

  /**
   * The name a peer token for a manifest request is bound to (tokens bind to a digest): the SHA-256 of the
   * repository and reference, so a token opens that one manifest only.
   */
  public static Digest manifestKey(String repository, String reference) {
    return Digest.of(("pullmesh manifest\0" + repository + ":" + reference).getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  /** A manifest a peer had in its cache. */
  public record PeerManifest(String node, byte[] bytes, String contentType, Digest digest) {}

  /**
   * Asks the other nodes, one after another, for a manifest they hold in their cache: for when upstream cannot be
   * reached. The bytes are checked against the digest the peer names (and against {@code reference} when it is one).
   *
   * @return the first peer's answer; fails when no peer has it
   */
  public Future<PeerManifest> manifest(String repository, String reference) {
    Set<String> skip = banned();
    return vertx.executeBlocking(mesh::peersNow, false).compose(list -> {
      List<Mesh.Peer> asked = new java.util.ArrayList<>();
      for (Mesh.Peer p : list) {
        if (!skip.contains(p.node())) {
          asked.add(p);
        }
      }
      return askInTurn(asked, 0, repository, reference);
    });
  }

  private Future<PeerManifest> askInTurn(List<Mesh.Peer> peers, int i, String repository, String reference) {
    if (i >= peers.size()) {
      return Future.failedFuture(new java.util.NoSuchElementException("no peer has " + repository + ":" + reference));
    }
    Mesh.Peer p = peers.get(i);
    RequestOptions o = new RequestOptions().setMethod(HttpMethod.GET).setAbsoluteURI(p.url() + MANIFESTS + repository + "/" + reference)
        .putHeader("Authorization", tokens.issue(mesh.node(), manifestKey(repository, reference))).setIdleTimeout(waitForHeaders.toMillis());
    return client.request(o).compose(req -> req.send()).compose(resp -> resp.body().map(body -> {
      if (resp.statusCode() != 200) {
        throw new IllegalStateException(p.node() + " answered " + resp.statusCode());
      }
      byte[] bytes = body.getBytes();
      Digest named = Digest.parse(String.valueOf(resp.getHeader("Docker-Content-Digest")));
      Digest actual = Digest.of(bytes);
      if (!actual.equals(named) || (Digest.isValid(reference) && !actual.equals(Digest.parse(reference)))) {
        penalise(p.node(), "sent a manifest whose bytes do not match its digest");
        throw new IllegalStateException(p.node() + " sent a manifest that does not match its digest");
      }
      return new PeerManifest(p.node(), bytes, resp.getHeader("Content-Type"), actual);
    })).recover(t -> {
      LOG.fine(() -> "peer " + p.node() + " has no " + repository + ":" + reference + ": " + t.getMessage());
      return askInTurn(peers, i + 1, repository, reference);
    });
  }

  private void background(Runnable r, String what) {
    try {
      writer.execute(() -> {
        try {
          r.run();
        } catch (RuntimeException e) {
          LOG.fine(() -> what + " in the mesh failed: " + e);
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      LOG.fine(() -> what + ": the node is shutting down");
    }
  }

  public void close() {
    writer.shutdown();
    try {
      writer.awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    client.close();
  }
}
