package io.pullmesh.mesh;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pullmesh.core.Digest;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The peer data plane over real HTTP on 127.0.0.1: tokens required, whole blobs and single ranges by sendfile. */
class PeerBlobServerTest {
  private static final String SECRET = "office-secret-0123456789";
  @TempDir Path dir;
  private Vertx vertx;
  private HttpServer server;
  private byte[] bytes;
  private Digest digest;
  private final HttpClient http = HttpClient.newHttpClient();
  private final PeerTokens tokens = new PeerTokens(SECRET, Clock.systemUTC(), Duration.ofMinutes(5));

  @BeforeEach
  void start() throws Exception {
    bytes = new byte[300_000];
    new Random(7).nextBytes(bytes);
    digest = Digest.ofBytes(MessageDigest.getInstance("SHA-256").digest(bytes));
    Path file = dir.resolve("blob");
    Files.write(file, bytes);
    vertx = Vertx.vertx();
    PeerBlobServer peers = new PeerBlobServer(vertx, tokens, d -> d.equals(digest) ? Optional.of(file) : Optional.empty());
    server = vertx.createHttpServer().requestHandler(peers::handle).listen(0, "127.0.0.1")
        .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private HttpResponse<byte[]> get(Digest d, String auth, String range) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.actualPort() + PeerBlobServer.PREFIX + d));
    if (auth != null) {
      b.header("Authorization", auth);
    }
    if (range != null) {
      b.header("Range", range);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  @Test
  void aTokenForTheDigestGetsTheBlobWholeOrARange() throws Exception {
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
    assertEquals(401, get(digest, null, null).statusCode());
    PeerTokens stranger = new PeerTokens("not-the-office-secret-000", Clock.systemUTC(), Duration.ofMinutes(5));
    HttpResponse<byte[]> r = get(digest, stranger.issue("intruder", digest), null);
    assertEquals(403, r.statusCode());
    Digest other = Digest.ofHex("e".repeat(64));
    assertEquals(403, get(digest, tokens.issue("node-b", other), null).statusCode(), "a token for another blob");
    assertEquals(200, get(digest, tokens.issue("node-b", digest), null).statusCode(), "the right token still works");
  }
}
