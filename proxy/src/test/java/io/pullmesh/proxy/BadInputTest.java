package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.ModelFixture;
import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every malformed request gets a registry JSON error with the right status, and nothing outside the cache is ever read. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BadInputTest {
  static final String UNKNOWN = "sha256:abababababababababababababababababababababababababababababababab";
  Path dir;
  Harness h;
  FakeModel model;

  @BeforeAll
  void start() throws Exception {
    dir = Files.createTempDirectory("pullmesh-bad");
    // a file a path traversal would reach if the proxy resolved request paths against the file system
    Files.writeString(dir.resolve("secret.txt"), "TOP SECRET");
    model = ModelFixture.tiny().create(dir.resolve("model"));
    h = Harness.start(dir, model);
  }

  @AfterAll
  void stop() {
    h.close();
  }

  /** Sends a request line exactly as given (no client-side normalisation) and reads the whole response. */
  String raw(String method, String target) throws Exception {
    try (Socket s = new Socket("127.0.0.1", h.proxy.port())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write((method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = s.getInputStream();
      return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
    }
  }

  static int status(String response) {
    return Integer.parseInt(response.substring(9, 12));
  }

  static String code(String response) {
    String body = response.substring(response.indexOf("\r\n\r\n") + 4);
    return new JsonObject(body).getJsonArray("errors").getJsonObject(0).getString("code");
  }

  @ParameterizedTest
  @CsvSource({
      "/v2/library/tiny/blobs/sha256:xyz, 400, DIGEST_INVALID",
      "/v2/library/tiny/blobs/SHA256:" + "AB" + "abababababababababababababababababababababababababababababababab, 400, DIGEST_INVALID",
      "/v2/library/tiny/manifests/sha256:123, 400, DIGEST_INVALID",
      "/v2/library/tiny/manifests/-bad, 400, TAG_INVALID",
      "/v2/library%2Ftiny/manifests/latest, 400, NAME_INVALID",
      "/v2/library/tiny%2f..%2f..%2fsecret.txt/manifests/latest, 400, NAME_INVALID",
      "/v2/library/tiny/blobs/%2e%2e%2f%2e%2e%2fsecret.txt, 400, NAME_INVALID",
      "/v2/LIBRARY/-tiny/manifests/latest, 400, NAME_INVALID",
      "/v2/library/tiny, 404, NOT_FOUND",
      "/v2/library/tiny/blobs/" + UNKNOWN + ", 404, BLOB_UNKNOWN",
      "/v2/library/nope/manifests/latest, 404, MANIFEST_UNKNOWN",
      "/v2/library/tiny/manifests/nope, 404, MANIFEST_UNKNOWN",
      "/nope, 404, NOT_FOUND"})
  void malformedOrUnknownGetsRegistryJson(String target, int status, String code) throws Exception {
    String r = raw("GET", target);
    assertEquals(status, status(r), r);
    assertTrue(r.toLowerCase().contains("content-type: application/json"), r);
    assertEquals(code, code(r), r);
    assertFalse(r.contains("TOP SECRET"));
  }

  @ParameterizedTest
  @CsvSource({
      "/v2/library/../../secret.txt",
      "/v2/library/tiny/blobs/../../../../secret.txt",
      "/v2/../secret.txt",
      "/../secret.txt",
      "/v2/library/tiny/blobs/sha256:../../secret.txt"})
  void traversalNeverLeavesTheCache(String target) throws Exception {
    String r = raw("GET", target);
    int s = status(r);
    assertTrue(s == 400 || s == 404, r);
    assertFalse(r.contains("TOP SECRET"), r);
  }

  @Test
  void writesAreRefused() throws Exception {
    for (String[] m : new String[][] {{"POST", "/v2/library/tiny/blobs/uploads/"}, {"PUT", "/v2/library/tiny/manifests/latest"},
        {"DELETE", "/v2/library/tiny/manifests/latest"}, {"PATCH", "/v2/library/tiny/blobs/" + UNKNOWN}}) {
      String r = raw(m[0], m[1]);
      assertEquals(405, status(r), m[0] + " " + m[1] + ": " + r);
      assertEquals("UNSUPPORTED", code(r));
      assertTrue(r.contains("Allow: GET, HEAD") || r.contains("allow: GET, HEAD"), r);
    }
  }

  @Test
  void headOfUnknownBlobIs404WithoutBody() {
    RawResponse r = RawHttp.head(h.url() + "/v2/library/tiny/blobs/" + UNKNOWN);
    assertEquals(404, r.status());
    assertEquals(0, r.body().length);
  }

  @Test
  void apiBaseAnswersEvenThoughOllamasRegistryDoesNot() {
    // registry.ollama.ai answers 404 on /v2/; generic clients (docker, skopeo) ping it first
    RawResponse r = RawHttp.get(h.url() + "/v2/");
    assertEquals(200, r.status());
    assertEquals("registry/2.0", r.header("Docker-Distribution-API-Version").orElseThrow());
    assertEquals("{}", r.bodyText());
  }

  @Test
  void hugeRequestLineIsRefused() throws Exception {
    String r = raw("GET", "/v2/" + "a/".repeat(5000) + "manifests/latest");
    int s = status(r);
    assertTrue(s >= 400 && s < 500, r.substring(0, Math.min(200, r.length())));
  }

  @Test
  void healthAndMetrics() {
    assertEquals(200, RawHttp.get(h.url() + "/healthz").status());
    RawResponse m = RawHttp.request("GET", h.url() + "/metrics", Map.of(), Duration.ofSeconds(10));
    assertEquals(200, m.status());
    assertTrue(m.header("Content-Type").orElseThrow().startsWith("text/plain"));
    assertTrue(m.bodyText().contains("pullmesh_downloads_active"), "our gauges are exported");
    assertTrue(m.bodyText().contains("jvm_memory_used_bytes"), "JVM metrics are exported");
  }
}
