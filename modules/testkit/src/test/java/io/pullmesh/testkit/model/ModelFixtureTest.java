package io.pullmesh.testkit.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Digest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelFixtureTest {
  @TempDir
  Path dir;

  private static ModelFixture threeLayers(long seed) {
    return ModelFixture.of("library/tiny", "latest")
        .layer(MediaTypes.MODEL, 200_000)
        .layer(MediaTypes.TEMPLATE, 311)
        .layer(MediaTypes.PARAMS, 0)
        .seed(seed);
  }

  @Test
  void blobsAreNamedByTheSha256OfTheirBytes() throws Exception {
    FakeModel m = threeLayers(7).create(dir);
    assertEquals(4, m.blobs().size());
    for (FakeBlob b : m.blobs()) {
      byte[] bytes = Files.readAllBytes(b.file());
      assertEquals(b.size(), bytes.length);
      assertEquals(b.digest(), Digest.ofBytes(MessageDigest.getInstance("SHA-256").digest(bytes)));
      assertEquals(dir.resolve("blobs").resolve("sha256-" + b.digest().hex()), b.file());
    }
    assertEquals(200_000 + 311 + m.config().size(), m.totalBytes());
    assertEquals(m.layers().get(0), m.largestLayer());
  }

  @Test
  void manifestHasOllamasExactShapeAndOrder() throws Exception {
    FakeModel m = threeLayers(7).create(dir);
    String json = new String(m.manifestBytes(), StandardCharsets.UTF_8);
    FakeBlob model = m.layers().get(0);
    assertTrue(json.startsWith("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
        + "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"digest\":\"" + m.config().digest()
        + "\",\"size\":" + m.config().size() + "},\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\","
        + "\"digest\":\"" + model.digest() + "\",\"size\":200000},"), json);
    JsonObject parsed = new JsonObject(json);
    JsonArray layers = parsed.getJsonArray("layers");
    assertEquals(List.of(MediaTypes.MODEL, MediaTypes.TEMPLATE, MediaTypes.PARAMS),
        layers.stream().map(o -> ((JsonObject) o).getString("mediaType")).toList());
    assertEquals(m.manifestDigest(), Digest.ofBytes(sha256(m.manifestBytes())));
    assertEquals("library/tiny:latest", m.reference());
  }

  @Test
  void sameSeedSameBytesOtherSeedOtherBytes(@TempDir Path other) throws Exception {
    FakeModel a = threeLayers(7).create(dir);
    FakeModel b = threeLayers(7).create(other);
    assertArrayEquals(a.manifestBytes(), b.manifestBytes());
    assertArrayEquals(Files.readAllBytes(a.largestLayer().file()), Files.readAllBytes(b.largestLayer().file()));
    FakeModel c = threeLayers(8).create(other);
    assertNotEquals(a.manifestDigest(), c.manifestDigest());
    assertNotEquals(a.largestLayer().digest(), c.largestLayer().digest());
  }

  @Test
  void nextVersionKeepsNameAndShapeButChangesEveryNonEmptyBlob() {
    FakeModel v1 = threeLayers(7).create(dir);
    FakeModel v2 = v1.nextVersion();
    assertEquals(v1.reference(), v2.reference());
    assertNotEquals(v1.manifestDigest(), v2.manifestDigest());
    for (int i = 0; i < 2; i++) {
      assertEquals(v1.layers().get(i).size(), v2.layers().get(i).size());
      assertNotEquals(v1.layers().get(i).digest(), v2.layers().get(i).digest());
    }
    assertNotEquals(v1.config().digest(), v2.config().digest());
    assertTrue(Files.exists(v1.largestLayer().file()), "the old version's blobs stay");
  }

  @Test
  void aLargeBlobIsStreamedNotBuffered() {
    // 32 MiB with a 512 MiB heap would pass either way; what matters is that it is quick and exact.
    FakeModel m = ModelFixture.of("library/big", "q4").layer(MediaTypes.MODEL, 32L << 20).seed(3).create(dir);
    assertEquals(32L << 20, m.largestLayer().size());
  }

  private static byte[] sha256(byte[] b) throws Exception {
    return MessageDigest.getInstance("SHA-256").digest(b);
  }
}
