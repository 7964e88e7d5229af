package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Digest;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.mesh.MeshPeers;
import io.pullmesh.mesh.PeerTokens;
import io.pullmesh.metrics.MetricsRecorder;
import io.pullmesh.store.BlobStore;
import io.pullmesh.store.ManifestRecord;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The peer API over real HTTP on 127.0.0.1: tokens required, whole blobs and single ranges by sendfile, cached manifests
 * only, and a blob being hashed before its first peer serve keeps no worker thread per waiting peer.
 */
class PeerApiTest {
  private static final String SECRET = "office-secret-0123456789";
  @TempDir Path dir;
  private Vertx vertx;
  private HttpServer server;
  private byte[] bytes;
  private Digest digest;
  private Path file;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private final PeerTokens tokens = new PeerTokens(SECRET, Clock.systemUTC(), Duration.ofMinutes(5));
  private final ManifestRecord manifest = new ManifestRecord(Digest.of("{}".getBytes()), "application/vnd.oci.image.manifest.v1+json",
      "{}".getBytes(), 1);

  @BeforeEach
  void start() throws Exception {
    bytes = new byte[300_000];
    new Random(7).nextBytes(bytes);
    digest = Digest.ofBytes(MessageDigest.getInstance("SHA-256").digest(bytes));
    file = dir.resolve("blob");
    Files.write(file, bytes);
    // a small worker pool: a peer request that held a worker while a hash ran would starve it
    vertx = Vertx.vertx(new VertxOptions().setWorkerPoolSize(2));
  }

  private void serve(PeerApi.Committed committed) throws Exception {
    PeerApi api = new PeerApi(vertx, tokens, committed, d -> null, (ex, source, size, range, d, tag) -> {
      throw new AssertionError("no download runs here");
    }, (repo, reference) -> repo.equals("library/x") && reference.equals("latest") ? Optional.of(manifest) : Optional.empty(),
        MetricsRecorder.noop());
    server = vertx.createHttpServer().requestHandler(req -> api.handle(new Exchange(req))).listen(0, "127.0.0.1")
        .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private void serveTheFile() throws Exception {
    serve(d -> CompletableFuture.completedFuture(d.equals(digest) ? Optional.of(file) : Optional.empty()));
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private HttpRequest request(String path, String auth, String range) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.actualPort() + path));
    if (auth != null) {
      b.header("Authorization", auth);
    }
    if (range != null) {
      b.header("Range", range);
    }
    return b.build();
  }

  private HttpResponse<byte[]> get(Digest d, String auth, String range) throws Exception {
    return http.send(request(MeshPeers.BLOBS + d, auth, range), HttpResponse.BodyHandlers.ofByteArray());
  }

  @Test
  void aTokenForTheDigestGetsTheBlobWholeOrARange() throws Exception {
    serveTheFile();
    HttpResponse<byte[]> whole = get(digest, tokens.issue("node-b", digest), null);
    assertEquals(200, whole.statusCode());
    assertArrayEquals(bytes, whole.body());
    assertEquals(digest.toString(), whole.headers().firstValue("Docker-Content-Digest").orElseThrow());
    HttpResponse<byte[]> part = get(digest, tokens.issue("node-b", digest), "bytes=1000-1999");
    assertEquals(206, part.statusCode());
    assertEquals("bytes 1000-1999/300000", part.headers().firstValue("Content-Range").orElseThrow());
    assertArrayEquals(Arrays.copyOfRange(bytes, 1000, 2000), part.body());
    assertEquals(416, get(digest, tokens.issue("node-b", digest), "bytes=400000-").statusCode());
    Digest other = Digest.ofHex("e".repeat(64));
    assertEquals(404, get(other, tokens.issue("node-b", other), null).statusCode(), "a blob this node does not hold");
  }

  @Test
  void withoutTheSecretNothingIsServed() throws Exception {
    serveTheFile();
    assertEquals(401, get(digest, null, null).statusCode());
    PeerTokens stranger = new PeerTokens("not-the-office-secret-000", Clock.systemUTC(), Duration.ofMinutes(5));
    HttpResponse<byte[]> r = get(digest, stranger.issue("intruder", digest), null);
    assertEquals(403, r.statusCode());
    Digest other = Digest.ofHex("e".repeat(64));
    assertEquals(403, get(digest, tokens.issue("node-b", other), null).statusCode(), "a token for another blob");
    assertEquals(200, get(digest, tokens.issue("node-b", digest), null).statusCode(), "the right token still works");
  }

  @Test
  void aPeerWithATokenForThatNameGetsTheCachedManifestAndNoOtherName() throws Exception {
    serveTheFile();
    String path = MeshPeers.MANIFESTS + "library/x/latest";
    HttpResponse<byte[]> ok = http.send(request(path, tokens.issue("node-b", MeshPeers.manifestKey("library/x", "latest")), null),
        HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, ok.statusCode());
    assertArrayEquals(manifest.bytes(), ok.body());
    assertEquals(manifest.contentType(), ok.headers().firstValue("Content-Type").orElseThrow());
    assertEquals(manifest.digest().toString(), ok.headers().firstValue("Docker-Content-Digest").orElseThrow());
    HttpResponse<String> otherName = http.send(request(path, tokens.issue("node-b", MeshPeers.manifestKey("library/y", "latest")), null),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(403, otherName.statusCode(), otherName.body());
    String missing = MeshPeers.MANIFESTS + "library/y/latest";
    HttpResponse<String> none = http.send(request(missing, tokens.issue("node-b", MeshPeers.manifestKey("library/y", "latest")), null),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(404, none.statusCode());
    assertTrue(none.body().contains("MANIFEST_UNKNOWN"), none.body());
  }

  @Test
  void regressionManyPeersAskingForABlobBeingHashedHoldNoWorkerThreadAndShareTheOneHash() throws Exception {
    // issue 16: each peer request for a blob not yet re-hashed held a Vert.x worker in running.join() while one hash ran
    Digest d;
    try (BlobStore store = BlobStore.open(dir.resolve("cache"), Clock.systemUTC())) {
      d = commit(store, bytes);
      List<Runnable> held = new CopyOnWriteArrayList<>();
      Scrubber scrubber = new Scrubber(store, x -> false, MetricsRecorder.noop(), Duration.ZERO, 1 << 20, x -> { }, held::add);
      AtomicInteger asked = new AtomicInteger();
      serve(x -> {
        asked.incrementAndGet();
        return scrubber.verifiedForPeer(x);
      });
      int peers = 20;
      List<CompletableFuture<HttpResponse<byte[]>>> answers = new ArrayList<>();
      for (int i = 0; i < peers; i++) {
        answers.add(http.sendAsync(request(MeshPeers.BLOBS + d, tokens.issue("node-" + i, d), null), HttpResponse.BodyHandlers.ofByteArray()));
      }
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (asked.get() < peers && System.nanoTime() < end) {
        Thread.sleep(10);
      }
      assertEquals(peers, asked.get(), "every peer request is waiting for the check");
      assertEquals(1, held.size(), "one hash for all of them");
      assertEquals("free", vertx.executeBlocking(() -> "free", false).toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS),
          "a worker is free while " + peers + " peers wait on the hash (pool of 2)");
      Thread hasher = new Thread(() -> held.forEach(Runnable::run));
      hasher.start();
      for (CompletableFuture<HttpResponse<byte[]>> a : answers) {
        HttpResponse<byte[]> r = a.get(30, TimeUnit.SECONDS);
        assertEquals(200, r.statusCode());
        assertArrayEquals(bytes, r.body());
      }
      hasher.join();
      scrubber.close();
    }
  }

  private static Digest commit(BlobStore store, byte[] data) throws Exception {
    Digest d = Digest.ofBytes(MessageDigest.getInstance("SHA-256").digest(data));
    try (FileChannel ch = store.openPartial(d, data.length, RepositoryName.parse("library/t"), 1 << 20)) {
      ch.write(ByteBuffer.wrap(data), 0);
      store.commit(d, data.length, ch);
    }
    return d;
  }
}
