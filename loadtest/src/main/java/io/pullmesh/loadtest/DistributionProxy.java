package io.pullmesh.loadtest;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The distribution registry (Debian's {@code docker-registry}, the CNCF distribution project) run as a pull-through
 * cache of the fake upstream: {@code proxy.remoteurl} in its config, filesystem storage in a scratch directory, on a
 * free loopback port. This is the alternative a registry operator would reach for first; it fetches each blob from
 * upstream in one stream.
 */
final class DistributionProxy implements AutoCloseable {
  private final Process process;
  private final String baseUrl;

  private DistributionProxy(Process process, String baseUrl) {
    this.process = process;
    this.baseUrl = baseUrl;
  }

  /** Starts it and waits (up to 30 s) until {@code GET /v2/} answers. */
  static DistributionProxy start(Path executable, String remoteUrl, Path dir, Path logDir, String label) throws IOException {
    Files.createDirectories(dir);
    Files.createDirectories(logDir);
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      port = s.getLocalPort();
    }
    Path config = dir.resolve("config.yml");
    Files.writeString(config, String.join("\n",
        "version: 0.1",
        "log:",
        "  level: warn",
        "storage:",
        "  filesystem:",
        "    rootdirectory: " + dir.resolve("storage"),
        "  delete:",
        "    enabled: true",
        "http:",
        "  addr: 127.0.0.1:" + port,
        "proxy:",
        "  remoteurl: " + remoteUrl,
        ""));
    Process p = Subprocesses.start(List.of(executable.toString(), "serve", config.toString()),
        logDir.resolve(label + ".out"), logDir.resolve(label + ".err"));
    String base = "http://127.0.0.1:" + port;
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) {
        throw new IOException("docker-registry exited with " + p.exitValue() + ": " + Proc.read(logDir.resolve(label + ".err")));
      }
      try {
        HttpResponse<Void> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v2/")).build(), HttpResponse.BodyHandlers.discarding());
        if (r.statusCode() == 200) {
          return new DistributionProxy(p, base);
        }
      } catch (IOException e) {
        // not listening yet
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      Subprocesses.sleep(50);
    }
    p.destroyForcibly();
    throw new IOException("docker-registry did not answer on " + base + " within 30 s");
  }

  String baseUrl() {
    return baseUrl;
  }

  long pid() {
    return process.pid();
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
  }
}
