package io.pullmesh.seeder;

import io.pullmesh.core.Bytes;
import io.pullmesh.proxy.cli.ProgressDisplay;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * Pulls models through a node's own registry API the way Ollama does, to leave them in the node's cache: the
 * manifest by tag (with Ollama's Accept header), then every layer and the config, whose bodies are read and thrown
 * away. The node fetches what it does not hold (one download per blob, verified before it is committed) and serves
 * the rest from its cache. A response that ends early or with the wrong length fails the model.
 */
final class LoopbackPuller implements AutoCloseable {
  static final String ACCEPT = "application/vnd.docker.distribution.manifest.v2+json";
  private static final long REDRAW_NANOS = 100_000_000L;

  private final String base;
  private final HttpClient http;
  private final java.io.PrintStream err;
  private final boolean terminal;
  private final LongSupplier nanos;
  private final String prefix;

  /**
   * @param base the node's URL, e.g. {@code http://127.0.0.1:9200}
   * @param terminal whether stderr is a terminal: a progress bar per model; otherwise one line per model
   * @param prefix what each line starts with, e.g. {@code pullmesh-seeder prefetch: }
   */
  LoopbackPuller(String base, java.io.PrintStream err, boolean terminal, String prefix) {
    this.base = base.replaceAll("/+$", "");
    this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10))
        .followRedirects(HttpClient.Redirect.NORMAL).build();
    this.err = err;
    this.terminal = terminal;
    this.nanos = System::nanoTime;
    this.prefix = prefix;
  }

  /** One model's outcome: {@code error} null when it is in the cache. */
  record Outcome(String name, int blobs, long bytes, long nanos, String error) {
    boolean ok() {
      return error == null;
    }
  }

  /** Pulls each name in turn (a bad name fails that one only); prints a line or a bar per model. */
  List<Outcome> pullAll(List<String> names) throws InterruptedException {
    List<Outcome> out = new ArrayList<>();
    for (String n : names) {
      // an interrupted body read surfaces as an IOException (a failed model): stop here rather than go on
      if (Thread.currentThread().isInterrupted()) {
        throw new InterruptedException("stopped before " + n);
      }
      out.add(pull(n));
    }
    return out;
  }

  Outcome pull(String text) throws InterruptedException {
    long started = nanos.getAsLong();
    ModelName name;
    try {
      name = ModelName.parse(text);
    } catch (IllegalArgumentException e) {
      err.println(prefix + e.getMessage());
      return new Outcome(text, 0, 0, 0, e.getMessage());
    }
    ProgressDisplay display = new ProgressDisplay(err, true, nanos, Long.MAX_VALUE);
    long[] done = {0};
    int blobs = 0;
    try {
      HttpResponse<byte[]> m = http.send(HttpRequest.newBuilder(uri("/v2/" + name.repository().spelled() + "/manifests/" + name.tag()))
          .header("Accept", ACCEPT).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
      if (m.statusCode() != 200) {
        throw new PullFailure(describe("the manifest", m.statusCode(), m.body()));
      }
      ManifestJson.Parsed parsed;
      try {
        parsed = ManifestJson.parse(m.body());
      } catch (IllegalArgumentException e) {
        throw new PullFailure("the registry's answer is not a model manifest: " + e.getMessage());
      }
      long total = parsed.totalBytes();
      String label = name.toString();
      long[] lastDraw = {0};
      for (ManifestJson.Descriptor d : parsed.blobs()) {
        long before = done[0];
        long got = fetchBlob(name, d, n -> {
          done[0] = before + n;
          long now = nanos.getAsLong();
          if (terminal && now - lastDraw[0] >= REDRAW_NANOS) {
            lastDraw[0] = now;
            display.update(label, done[0], total, 0);
          }
        });
        done[0] = before + got;
        blobs++;
      }
      long took = nanos.getAsLong() - started;
      if (terminal) {
        display.done(label, done[0], total, 0);
      } else {
        err.println(prefix + name + " is in the cache: " + Bytes.human(total) + " in " + blobs + " blobs ("
            + seconds(took) + ")");
      }
      return new Outcome(name.toString(), blobs, total, took, null);
    } catch (PullFailure | IOException e) {
      display.clear();
      String msg = e instanceof PullFailure ? e.getMessage() : "cannot reach the node at " + base + ": " + e;
      err.println(prefix + name + " failed: " + msg);
      return new Outcome(name.toString(), blobs, done[0], nanos.getAsLong() - started, msg);
    }
  }

  /** GETs one blob and reads its body to the end; returns its length. */
  private long fetchBlob(ModelName name, ManifestJson.Descriptor d, java.util.function.LongConsumer progress)
      throws IOException, InterruptedException, PullFailure {
    HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(uri("/v2/" + name.repository().spelled() + "/blobs/" + d.digest())).GET().build(),
        HttpResponse.BodyHandlers.ofInputStream());
    try (InputStream in = r.body()) {
      if (r.statusCode() != 200) {
        throw new PullFailure(describe("blob " + d.digest(), r.statusCode(), in.readNBytes(64 << 10)));
      }
      byte[] buf = new byte[256 << 10];
      long n = 0;
      try {
        for (int k; (k = in.read(buf)) >= 0; ) {
          n += k;
          progress.accept(n);
        }
      } catch (IOException e) {
        throw new PullFailure("blob " + d.digest() + " was cut off after " + n + " of " + d.size() + " bytes (" + e.getMessage()
            + "); the node keeps what it fetched, run prefetch again");
      }
      if (n != d.size()) {
        throw new PullFailure("blob " + d.digest() + " came with " + n + " bytes, the manifest says " + d.size());
      }
      return n;
    }
  }

  private URI uri(String path) {
    return URI.create(base + path);
  }

  /** {@code 404 MANIFEST_UNKNOWN: manifest unknown} from a registry error body, or the status alone. */
  static String describe(String what, int status, byte[] body) {
    String detail = "";
    try {
      JsonArray errors = new JsonObject(Buffer.buffer(body)).getJsonArray("errors");
      if (errors != null && !errors.isEmpty() && errors.getValue(0) instanceof JsonObject e) {
        detail = " " + e.getString("code", "") + ": " + e.getString("message", "");
      }
    } catch (RuntimeException e) {
      // not a registry error document
    }
    String hint = status == 404 ? " (no such model or tag upstream: check the name)" : "";
    return what + ": HTTP " + status + detail.stripTrailing() + hint;
  }

  private static String seconds(long nanos) {
    return String.format(java.util.Locale.ROOT, "%.1f s", nanos / 1e9);
  }

  @Override
  public void close() {
    // HttpClient.close() exists from Java 21 only; its threads are daemons and go with it
  }

  /** A model could not be pulled; the message says why. */
  static final class PullFailure extends Exception {
    private static final long serialVersionUID = 1L;

    PullFailure(String message) {
      super(message);
    }
  }
}
