package io.pullmesh.proxy;

import io.pullmesh.testkit.tools.ExternalTool;
import io.pullmesh.testkit.tools.Tools;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The real Prometheus server ({@code prometheus} from the PATH) as a subprocess on a free loopback port, with
 * its TSDB and log in a test directory, and its HTTP API as JSON. {@link #close} kills it.
 */
final class PrometheusServer implements AutoCloseable {
  private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  private final Process process;
  private final Path log;
  private final String base;

  private PrometheusServer(Process process, Path log, String base) {
    this.process = process;
    this.log = log;
    this.base = base;
  }

  /**
   * Starts Prometheus with {@code config} (the text of a prometheus.yml, written to {@code dir}) and waits
   * until it says it is ready. Skips the test when prometheus is not installed (fails with
   * -Dpullmesh.require.tools=true).
   */
  static PrometheusServer start(Path dir, String config) throws IOException, InterruptedException {
    Path exe = Tools.requireTool(ExternalTool.PROMETHEUS);
    Files.createDirectories(dir);
    Path configFile = dir.resolve("prometheus.yml");
    Files.writeString(configFile, config);
    Path log = dir.resolve("prometheus.log");
    int port = freePort();
    Process p = new ProcessBuilder(exe.toString(),
        "--config.file=" + configFile,
        "--storage.tsdb.path=" + dir.resolve("data"),
        "--web.listen-address=127.0.0.1:" + port,
        "--log.level=info")
        .redirectErrorStream(true)
        .redirectOutput(log.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
        .start();
    PrometheusServer server = new PrometheusServer(p, log, "http://127.0.0.1:" + port);
    boolean ok = false;
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (true) {
        if (!p.isAlive()) {
          throw new AssertionError("prometheus exited with " + p.exitValue() + ":\n" + server.log());
        }
        try {
          if (server.send(HttpRequest.newBuilder(URI.create(server.base + "/-/ready")).GET()).statusCode() == 200) {
            break;
          }
        } catch (UncheckedIOException e) {
          // not listening yet
        }
        if (System.nanoTime() > deadline) {
          throw new AssertionError("prometheus not ready after 30 s:\n" + server.log());
        }
        Thread.sleep(50);
      }
      ok = true;
      return server;
    } finally {
      if (!ok) {
        server.close();
      }
    }
  }

  /** A port that was free a moment ago (Prometheus cannot be told to pick one and report it). */
  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** {@code GET /api/v1/<path>}: the whole response object (status, data or errorType/error). */
  JsonObject api(String pathAndQuery) {
    HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(base + "/api/v1/" + pathAndQuery)).GET());
    return new JsonObject(r.body());
  }

  /** An instant query at the current time, by POST: the whole response object. */
  JsonObject query(String expr) {
    String form = "query=" + URLEncoder.encode(expr, StandardCharsets.UTF_8);
    HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(base + "/api/v1/query"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString(form)));
    return new JsonObject(r.body());
  }

  /** The result vector of a query that must succeed (a bad expression fails the test with Prometheus' error). */
  JsonArray vector(String expr) {
    JsonObject r = query(expr);
    if (!"success".equals(r.getString("status"))) {
      throw new AssertionError("query failed: " + expr + "\n-> " + r.encode());
    }
    return r.getJsonObject("data").getJsonArray("result");
  }

  /** Polls {@code expr} every 100 ms until its result vector satisfies {@code done}; fails after {@code timeout}. */
  JsonArray awaitVector(String expr, Predicate<JsonArray> done, Duration timeout, String what) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    JsonArray last;
    while (true) {
      last = vector(expr);
      if (done.test(last)) {
        return last;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not true after " + timeout.toSeconds() + " s: " + what + "; " + expr + " -> " + last.encode());
      }
      Thread.sleep(100);
    }
  }

  /** The values of a result vector's samples ({@code [timestamp, "value"]} each), as doubles. */
  static List<Double> values(JsonArray vector) {
    return vector.stream().map(o -> Double.parseDouble(((JsonObject) o).getJsonArray("value").getString(1))).toList();
  }

  /** Everything Prometheus printed so far. */
  String log() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  private HttpResponse<String> send(HttpRequest.Builder b) {
    try {
      return HTTP.send(b.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e.toString(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
