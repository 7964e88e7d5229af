package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Exact Range semantics, for a blob being fetched (the request that starts the download is served from it in
 * flight: {@code X-Pullmesh-Cache: miss}) and for a committed one (served with sendfile: {@code hit}). Each
 * in-flight case uses a layer nobody asked for before, so it really is cold.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RangeSemanticsTest {
  private static final int LAYERS = 16;
  private static final long SIZE = 1_500_000;
  Path dir;
  FakeModel model;
  Harness h;
  Iterator<FakeBlob> cold;

  @BeforeAll
  void start() throws Exception {
    dir = Files.createTempDirectory("pullmesh-range");
    ModelFixture f = ModelFixture.of("library/ranges", "latest");
    for (int i = 0; i < LAYERS; i++) {
      f.layer(MediaTypes.MODEL, SIZE + i);
    }
    model = f.create(dir.resolve("model"));
    h = Harness.start(dir, model);
    // slow enough that a response overlaps the download
    h.upstream.setCdnBytesPerSecond(4L << 20);
    cold = model.layers().iterator();
  }

  @AfterAll
  void stop() {
    h.close();
  }

  private String url(FakeBlob b) {
    return h.url() + "/v2/library/ranges/blobs/" + b.digest();
  }

  /** A blob in the requested state: a never-requested layer, or one fetched completely beforehand. */
  private FakeBlob blob(String state) {
    FakeBlob b = cold.next();
    if (state.equals("committed")) {
      RawResponse warm = RawHttp.get(url(b));
      assertEquals(200, warm.status());
      assertTrue(warm.complete());
      try {
        h.awaitIdle();
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    }
    return b;
  }

  private static String expectedCache(String state) {
    return state.equals("committed") ? "hit" : "miss";
  }

  private static byte[] slice(FakeBlob b, long first, long lastInclusive) throws Exception {
    byte[] all = Files.readAllBytes(b.file());
    return Arrays.copyOfRange(all, (int) first, (int) lastInclusive + 1);
  }

  @ParameterizedTest
  @ValueSource(strings = {"inflight", "committed"})
  void singleClosedRange(String state) throws Exception {
    FakeBlob b = blob(state);
    RawResponse r = RawHttp.get(url(b), Map.of("Range", "bytes=1000-1999"));
    assertEquals(206, r.status(), r.toString());
    assertEquals("bytes 1000-1999/" + b.size(), r.header("Content-Range").orElseThrow());
    assertEquals("1000", r.header("Content-Length").orElseThrow());
    assertEquals(expectedCache(state), r.header("X-Pullmesh-Cache").orElseThrow());
    assertTrue(r.complete());
    assertArrayEquals(slice(b, 1000, 1999), r.body());
  }

  @ParameterizedTest
  @ValueSource(strings = {"inflight", "committed"})
  void openAndSuffixRanges(String state) throws Exception {
    FakeBlob b = blob(state);
    RawResponse open = RawHttp.get(url(b), Map.of("Range", "bytes=1400000-"));
    assertEquals(206, open.status(), open.toString());
    assertEquals("bytes 1400000-" + (b.size() - 1) + "/" + b.size(), open.header("Content-Range").orElseThrow());
    assertArrayEquals(slice(b, 1400000, b.size() - 1), open.body());
    RawResponse suffix = RawHttp.get(url(b), Map.of("Range", "bytes=-300"));
    assertEquals(206, suffix.status());
    assertEquals("bytes " + (b.size() - 300) + "-" + (b.size() - 1) + "/" + b.size(), suffix.header("Content-Range").orElseThrow());
    assertArrayEquals(slice(b, b.size() - 300, b.size() - 1), suffix.body());
    RawResponse past = RawHttp.get(url(b), Map.of("Range", "bytes=0-99999999"));
    assertEquals(206, past.status());
    assertEquals(b.size(), past.body().length);
  }

  @ParameterizedTest
  @ValueSource(strings = {"inflight", "committed"})
  void unsatisfiableAndInvalidRangesGet416NeverTheWholeBody(String state) throws Exception {
    FakeBlob b = blob(state);
    for (String range : List.of("bytes=" + b.size() + "-", "bytes=99999999-99999999", "bytes=-0", "bytes=abc", "bytes=5-1")) {
      RawResponse r = RawHttp.get(url(b), Map.of("Range", range));
      assertEquals(416, r.status(), range + ": " + r);
      assertEquals("bytes */" + b.size(), r.header("Content-Range").orElseThrow(), range);
      assertTrue(r.bodyText().contains("\"RANGE_NOT_SATISFIABLE\""), r.bodyText());
      assertTrue(r.body().length < 1000, "never the blob");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"inflight", "committed"})
  void multipleRangesAreMultipart(String state) throws Exception {
    FakeBlob b = blob(state);
    RawResponse r = RawHttp.get(url(b), Map.of("Range", "bytes=1200000-1200009, 0-4"));
    assertEquals(206, r.status(), r.toString());
    String type = r.header("Content-Type").orElseThrow();
    assertTrue(type.startsWith("multipart/byteranges; boundary="), type);
    assertEquals(Long.parseLong(r.header("Content-Length").orElseThrow()), r.body().length);
    String boundary = type.substring(type.indexOf('=') + 1);
    List<Part> parts = parseMultipart(r.body(), boundary);
    assertEquals(2, parts.size());
    assertEquals("bytes 1200000-1200009/" + b.size(), parts.get(0).contentRange);
    assertArrayEquals(slice(b, 1200000, 1200009), parts.get(0).body);
    assertEquals("bytes 0-4/" + b.size(), parts.get(1).contentRange);
    assertArrayEquals(slice(b, 0, 4), parts.get(1).body);
  }

  @ParameterizedTest
  @ValueSource(strings = {"inflight", "committed"})
  void wholeBodyCarriesLocationForOllamasUrlResolution(String state) throws Exception {
    FakeBlob b = blob(state);
    RawResponse r = RawHttp.get(url(b));
    assertEquals(200, r.status());
    // relative: Ollama resolves it against the URL it asked, so the Host header is never written back (issue 18)
    assertEquals(java.net.URI.create(url(b)).getPath(), r.header("Location").orElseThrow());
    assertEquals(Long.toString(b.size()), r.header("Content-Length").orElseThrow());
    assertEquals("bytes", r.header("Accept-Ranges").orElseThrow());
    assertEquals("\"" + b.digest() + "\"", r.header("ETag").orElseThrow());
    assertEquals(b.digest().toString(), r.header("Docker-Content-Digest").orElseThrow());
    assertArrayEquals(Files.readAllBytes(b.file()), r.body());
  }

  @ParameterizedTest
  @ValueSource(strings = {"cold", "committed"})
  void headHasContentLengthAndNoBody(String state) {
    FakeBlob b = blob(state.equals("cold") ? "inflight" : state);
    RawResponse r = RawHttp.head(url(b));
    assertEquals(200, r.status());
    assertEquals(Long.toString(b.size()), r.header("Content-Length").orElseThrow());
    assertEquals("bytes", r.header("Accept-Ranges").orElseThrow());
    assertEquals(0, r.body().length);
  }

  @ParameterizedTest
  @ValueSource(strings = {"committed"})
  void conditionalRequests(String state) throws Exception {
    FakeBlob b = blob(state);
    String etag = "\"" + b.digest() + "\"";
    assertEquals(304, RawHttp.get(url(b), Map.of("If-None-Match", etag)).status());
    RawResponse stale = RawHttp.get(url(b), Map.of("Range", "bytes=0-9", "If-Range", "\"sha256:other\""));
    assertEquals(200, stale.status(), "If-Range that does not match asks for the whole blob (RFC 9110 13.1.5)");
    assertEquals(b.size(), stale.body().length);
    RawResponse same = RawHttp.get(url(b), Map.of("Range", "bytes=0-9", "If-Range", etag));
    assertEquals(206, same.status());
    assertFalse(same.body().length > 10);
  }

  record Part(String contentRange, byte[] body) {}

  static List<Part> parseMultipart(byte[] body, String boundary) {
    String text = new String(body, StandardCharsets.ISO_8859_1);
    Pattern head = Pattern.compile("(?:\r\n)?--" + Pattern.quote(boundary) + "\r\nContent-Type: [^\r]+\r\nContent-Range: ([^\r]+)\r\n\r\n");
    Matcher m = head.matcher(text);
    List<Part> parts = new java.util.ArrayList<>();
    int end = text.indexOf("\r\n--" + boundary + "--\r\n");
    assertTrue(end > 0 && text.endsWith("\r\n--" + boundary + "--\r\n"), "closing boundary");
    int[] starts = new int[16];
    String[] ranges = new String[16];
    int n = 0;
    while (m.find()) {
      ranges[n] = m.group(1);
      starts[n++] = m.end();
    }
    for (int i = 0; i < n; i++) {
      Matcher r = Pattern.compile("bytes (\\d+)-(\\d+)/\\d+").matcher(ranges[i]);
      assertTrue(r.matches());
      int len = (int) (Long.parseLong(r.group(2)) - Long.parseLong(r.group(1)) + 1);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      out.write(body, starts[i], len);
      parts.add(new Part(ranges[i], out.toByteArray()));
    }
    return parts;
  }
}
