package io.pullmesh.loadtest;

import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a Gatling simulation pulls from: by default an embedded fake upstream (the testkit's registry and CDN, per
 * connection throttled like a WAN link) behind a real pullmesh proxy process started from the shaded jar; or, with
 * {@code -Dtarget=http://host:9200}, a proxy that is already running (the models must exist upstream of it; name
 * them with {@code -Dmodels=library/a:latest,library/b:latest}).
 *
 * <p>System properties: {@code modelMiB} (size of each model's weights layer), {@code cdnMiBps} (per-connection
 * CDN rate), {@code proxyXmx}, {@code proxyConnections}. Everything listens on 127.0.0.1.
 */
public final class LoadTarget implements AutoCloseable {
  /** One blob of a model as a client pulls it. */
  public record Blob(String digest, long size) {}

  /** A model: its name, manifest path and blobs (config first). */
  public record Model(String repository, String tag, List<Blob> blobs) {
    public long totalBytes() {
      return blobs.stream().mapToLong(Blob::size).sum();
    }

    public String manifestPath() {
      return "/v2/" + repository + "/manifests/" + tag;
    }

    public String blobPath(Blob b) {
      return "/v2/" + repository + "/blobs/" + b.digest();
    }
  }

  private final FakeRegistry registry;
  private final ProxyProcess proxy;
  private final String baseUrl;
  private final List<Model> models;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

  private LoadTarget(FakeRegistry registry, ProxyProcess proxy, String baseUrl, List<Model> models) {
    this.registry = registry;
    this.proxy = proxy;
    this.baseUrl = baseUrl;
    this.models = models;
  }

  public static long longProperty(String name, long def) {
    String v = System.getProperty(name);
    return v == null || v.isBlank() ? def : Long.parseLong(v.strip());
  }

  /**
   * Starts (or connects to) the target with {@code count} models of {@code modelMiB} each.
   *
   * @param proxyArgs extra proxy options, e.g. {@code --manifest-ttl 1s}
   */
  public static LoadTarget start(String name, int count, long defaultModelMiB, List<String> proxyArgs) {
    String target = System.getProperty("target");
    try {
      if (target != null && !target.isBlank()) {
        String base = target.endsWith("/") ? target.substring(0, target.length() - 1) : target;
        List<Model> models = new ArrayList<>();
        LoadTarget t = new LoadTarget(null, null, base, models);
        for (String ref : System.getProperty("models", "library/tiny:latest").split(",")) {
          int colon = ref.lastIndexOf(':');
          models.add(t.describe(ref.substring(0, colon).strip(), ref.substring(colon + 1).strip()));
        }
        return t;
      }
      long mib = longProperty("modelMiB", defaultModelMiB);
      long rate = longProperty("cdnMiBps", 64) << 20;
      Path work = Files.createTempDirectory("pullmesh-gatling-" + name);
      FakeRegistry registry = FakeRegistry.builder().cdnBytesPerSecond(rate).requestLogCapacity(100).build();
      List<Model> models = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        FakeModel m = ModelFixture.of("library/load" + i, "latest").seed(1000 + i).layer(MediaTypes.MODEL, mib << 20)
            .layer(MediaTypes.TEMPLATE, 311).layer(MediaTypes.PARAMS, 97).create(work.resolve("model" + i));
        registry.addModel(m);
        List<Blob> blobs = new ArrayList<>();
        blobs.add(new Blob(m.config().digest().toString(), m.config().size()));
        for (FakeBlob b : m.blobs()) {
          if (!b.digest().equals(m.config().digest())) {
            blobs.add(new Blob(b.digest().toString(), b.size()));
          }
        }
        models.add(new Model(m.repository(), m.tag(), List.copyOf(blobs)));
      }
      registry.start();
      Path root = Path.of(System.getProperty("pullmesh.repo.root", ".."));
      Path jar = root.resolve("proxy/target/pullmesh-proxy.jar");
      if (!Files.isRegularFile(jar)) {
        registry.close();
        throw new IllegalStateException(jar.toAbsolutePath() + " is missing: build it first (mvn -DskipTests package -pl loadtest -am)");
      }
      Path java = Path.of(System.getProperty("java.home"), "bin", "java");
      ProxyProcess proxy = ProxyProcess.start(java, jar, System.getProperty("proxyXmx", "512m"), List.of(), registry.registryUrl(),
          work.resolve("cache"), (int) longProperty("proxyConnections", 16), work.resolve("logs"), "proxy-" + name, proxyArgs);
      System.out.println("gatling target: pullmesh " + proxy.baseUrl() + " (pid " + proxy.pid() + ") in front of " + registry.registryUrl()
          + ", " + count + " model(s) of " + mib + " MiB, CDN " + (rate >> 20) + " MiB/s per connection; logs in " + work.resolve("logs"));
      return new LoadTarget(registry, proxy, proxy.baseUrl(), List.copyOf(models));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A model's blobs as the proxy describes them (target mode): from its manifest. */
  private Model describe(String repository, String tag) throws IOException {
    String manifest = get("/v2/" + repository + "/manifests/" + tag);
    List<Blob> blobs = new ArrayList<>();
    Matcher m = Pattern.compile("\"digest\"\\s*:\\s*\"(sha256:[0-9a-f]{64})\"\\s*,\\s*\"size\"\\s*:\\s*(\\d+)|\"size\"\\s*:\\s*(\\d+)\\s*,\\s*\"digest\"\\s*:\\s*\"(sha256:[0-9a-f]{64})\"")
        .matcher(manifest);
    while (m.find()) {
      blobs.add(m.group(1) != null ? new Blob(m.group(1), Long.parseLong(m.group(2))) : new Blob(m.group(4), Long.parseLong(m.group(3))));
    }
    return new Model(repository, tag, List.copyOf(blobs));
  }

  /**
   * JIT warm-up for a fresh proxy, as the pull benchmark does before it measures: GETs of every model's manifest for
   * {@code seconds}, each on a new connection (as the storm's users make them) from two threads; not measured. Returns
   * how many were answered 200.
   */
  public long warmUpManifests(long seconds) {
    if (seconds <= 0) {
      return 0;
    }
    URI base = URI.create(baseUrl);
    long until = System.nanoTime() + seconds * 1_000_000_000L;
    java.util.concurrent.atomic.AtomicLong ok = new java.util.concurrent.atomic.AtomicLong();
    Runnable loop = () -> {
      for (int i = 0; System.nanoTime() < until; i++) {
        String path = models.get(i % models.size()).manifestPath();
        try (java.net.Socket s = new java.net.Socket(base.getHost(), base.getPort())) {
          s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + base.getAuthority()
              + "\r\nAccept: application/vnd.docker.distribution.manifest.v2+json\r\nConnection: close\r\n\r\n")
              .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
          byte[] all = s.getInputStream().readAllBytes();
          if (new String(all, 0, Math.min(all.length, 12), java.nio.charset.StandardCharsets.US_ASCII).endsWith("200")) {
            ok.incrementAndGet();
          }
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
    };
    Thread a = new Thread(loop, "warm-up-a");
    Thread b = new Thread(loop, "warm-up-b");
    a.start();
    b.start();
    try {
      a.join();
      b.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    System.out.printf("gatling target: warmed up with %d manifest GETs in %d s%n", ok.get(), seconds);
    return ok.get();
  }

  private String get(String path) throws IOException {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(baseUrl + path)).timeout(Duration.ofSeconds(60)).build(),
          HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IOException("GET " + path + ": " + r.statusCode() + " " + r.body());
      }
      return r.body();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }

  public String baseUrl() {
    return baseUrl;
  }

  public List<Model> models() {
    return models;
  }

  /** Blob bytes the proxy has fetched from upstream so far (its own counter, so it works in target mode too). */
  public double upstreamBlobBytes() {
    try {
      return ProxyProcess.metric(get("/metrics"), "pullmesh_upstream_bytes_total", "kind=\"blob\"");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Requests the proxy sent upstream of one kind (manifest, locate, piece...). */
  public double upstreamRequests(String kind) {
    try {
      return ProxyProcess.metric(get("/metrics"), "pullmesh_upstream_requests_total", "kind=\"" + kind + "\"");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The proxy's own view of its slowest recent answer to a GET with a 200 (Vert.x's server metric, seconds; Micrometer
   * keeps a max over the last minutes): set next to the client's latencies, it tells time spent in the proxy from time
   * spent before the request reached it (connecting, the client's own scheduling).
   */
  public double serverResponseTimeMaxSeconds() {
    try {
      return ProxyProcess.metric(get("/metrics"), "vertx_http_server_response_time_seconds_max", "method=\"GET\"", "code=\"200\"");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The proxy's own count of answered requests on {@code route} (its {@code pullmesh_http_requests_seconds} histogram), per
   * bucket bound in seconds: two snapshots give the proxy's share of a run's latency ({@link #quantileSeconds}).
   */
  public java.util.TreeMap<Double, Double> serverLatencyBuckets(String route) {
    try {
      String text = get("/metrics");
      java.util.TreeMap<Double, Double> buckets = new java.util.TreeMap<>();
      String prefix = "pullmesh_http_requests_seconds_bucket{";
      for (String line : text.split("\n")) {
        if (!line.startsWith(prefix) || !line.contains("route=\"" + route + "\"") || !line.contains("method=\"GET\"")) {
          continue;
        }
        int le = line.indexOf("le=\"");
        String bound = line.substring(le + 4, line.indexOf('"', le + 4));
        double b = bound.equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(bound);
        buckets.merge(b, Double.parseDouble(line.substring(line.lastIndexOf('}') + 1).trim().split("\\s+")[0]), Double::sum);
      }
      return buckets;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The upper bucket bound (seconds) under which {@code q} of the requests counted between two
   * {@link #serverLatencyBuckets} snapshots fell: an upper estimate, as precise as the histogram's buckets.
   */
  public static double quantileSeconds(java.util.TreeMap<Double, Double> before, java.util.TreeMap<Double, Double> after, double q) {
    if (after.isEmpty()) {
      return Double.NaN; // a target without pullmesh's histogram (a reference server)
    }
    double total = after.lastEntry().getValue() - before.getOrDefault(after.lastKey(), 0.0);
    for (var e : after.entrySet()) {
      if (e.getValue() - before.getOrDefault(e.getKey(), 0.0) >= q * total) {
        return e.getKey();
      }
    }
    return Double.NaN;
  }

  /** Peak resident memory of the embedded proxy process (NaN in target mode). */
  public double proxyPeakRssMiB() {
    return proxy == null ? Double.NaN : proxy.peakRssBytes() / 1048576.0;
  }

  @Override
  public void close() {
    if (proxy != null) {
      proxy.close();
    }
    if (registry != null) {
      registry.close();
    }
  }
}
