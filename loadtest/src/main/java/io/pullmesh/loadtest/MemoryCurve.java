package io.pullmesh.loadtest;

import io.pullmesh.core.Bytes;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The memory-versus-downloads curve: for each proxy jar given (e.g. an old build beside the current one) and each K,
 * a fresh proxy process ({@code -Xmx256m} by default, empty cache) pulls K different cold models at once from the
 * testkit's fake registry, whose CDN is throttled per connection so that the downloads overlap; the proxy's peak RSS
 * ({@code VmHWM}) is recorded for each. Every blob is read whole and checked against its digest. Not a throughput
 * benchmark: the wall time is printed only to show that the downloads overlapped.
 *
 * <p>Run it with {@code loadtest/bench.sh --memory-curve [--jars old=/path/old.jar,new=proxy/target/pullmesh-proxy.jar]
 * [--ks 1,4,16,64] [--size 32MiB] [--rate 1MiB] [--xmx 256m] [--proxy-args '...'] [--nmt]}. With {@code --nmt} each
 * proxy runs with {@code -XX:NativeMemoryTracking=summary} and its {@code jcmd VM.native_memory summary} at the peak of
 * the pulls is kept in the log directory.
 */
public final class MemoryCurve {
  private final Map<String, Path> jars = new LinkedHashMap<>();
  /** The peak RSS of the proxy measured last, kept for a run that fails. */
  private long lastPeak;
  private final List<Integer> ks = new ArrayList<>();
  private long size = 32L << 20;
  private long rate = 1L << 20;
  private String xmx = "256m";
  private boolean nmt;
  private List<String> proxyArgs = List.of();
  private List<String> jvmArgs = List.of();
  private final Path root = Path.of(System.getProperty("pullmesh.repo.root", ".")).toAbsolutePath().normalize();
  private final Path work = root.resolve("loadtest/target/memory-work");
  private final Path javaBin = ProcessHandle.current().info().command().map(Path::of)
      .orElse(Path.of(System.getProperty("java.home"), "bin", "java"));

  /** One measurement: the proxy's peak RSS while K models were pulled at once. */
  record Point(String jar, int k, long peakRss, double seconds, long upstreamBytes, String nmtCommitted) {}

  public static void main(String[] args) throws Exception {
    MemoryCurve c = new MemoryCurve();
    c.parse(args);
    List<Point> points = c.run();
    System.out.println(c.table(points));
    System.exit(0);
  }

  private void parse(String[] args) {
    String jarList = "current=proxy/target/pullmesh-proxy.jar";
    String kList = "1,4,16,64";
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--memory-curve" -> { }
        case "--jars" -> jarList = args[++i];
        case "--ks" -> kList = args[++i];
        case "--size" -> size = Bytes.parse(args[++i]);
        case "--rate" -> rate = Bytes.parse(args[++i]);
        case "--xmx" -> xmx = args[++i];
        case "--nmt" -> nmt = true;
        case "--proxy-args" -> proxyArgs = List.of(args[++i].trim().split("\\s+"));
        case "--proxy-jvm-opts" -> jvmArgs = List.of(args[++i].trim().split("\\s+"));
        default -> throw new IllegalArgumentException("memory curve: unknown option " + args[i]
            + " (--jars label=jar,..., --ks 1,4,16,64, --size 32MiB, --rate 1MiB, --xmx 256m, --nmt, --proxy-args '...', --proxy-jvm-opts '...')");
      }
    }
    for (String j : jarList.split(",")) {
      String[] p = j.split("=", 2);
      jars.put(p[0], root.resolve(p[1]).normalize());
    }
    for (String k : kList.split(",")) {
      ks.add(Integer.parseInt(k.trim()));
    }
  }

  private List<Point> run() throws Exception {
    deleteTree(work);
    Files.createDirectories(work);
    int most = ks.stream().mapToInt(Integer::intValue).max().orElse(1);
    List<FakeModel> models = new ArrayList<>();
    // each run pulls models no proxy has seen: a fresh proxy has an empty cache, so the same models serve every run
    for (int i = 0; i < most; i++) {
      models.add(ModelFixture.of("library/mem-" + i, "latest").layer(MediaTypes.MODEL, size).seed(7000 + i)
          .create(work.resolve("models")));
    }
    List<Point> out = new ArrayList<>();
    try (FakeRegistry registry = FakeRegistry.builder().cdnBytesPerSecond(rate).build()) {
      models.forEach(registry::addModel);
      registry.start();
      log("fake registry " + registry.registryUrl() + ", CDN throttled to " + Bytes.human(rate) + "/s per connection; " + most
          + " models of " + Bytes.human(size));
      for (int k : ks) {
        for (Map.Entry<String, Path> jar : jars.entrySet()) {
          try {
            out.add(measure(registry, models.subList(0, k), jar.getKey(), jar.getValue()));
          } catch (Exception e) {
            // a proxy that ran out of memory is a result too: its row says so, and the curve goes on
            out.add(new Point(jar.getKey(), k, lastPeak, Double.NaN, 0, "failed: " + e.getMessage()));
          }
          log(out.get(out.size() - 1).toString());
        }
      }
    }
    return out;
  }

  private Point measure(FakeRegistry registry, List<FakeModel> models, String label, Path jar) throws Exception {
    Path cache = work.resolve("cache-" + label + "-" + models.size());
    List<String> jvm = new ArrayList<>(jvmArgs);
    if (nmt) {
      jvm.add("-XX:NativeMemoryTracking=summary");
    }
    String name = "mem-" + label + "-k" + models.size();
    long upBefore = registry.stats().blobBytes();
    try (ProxyProcess proxy = ProxyProcess.start(javaBin, jar, xmx, jvm, registry.registryUrl(), cache, 16, work.resolve("logs"), name,
        proxyArgs)) {
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
      ExecutorService pool = Executors.newFixedThreadPool(models.size());
      AtomicLong nmtPeak = new AtomicLong();
      String[] nmtText = {""};
      long start = System.nanoTime();
      try {
        List<Future<?>> pulls = new ArrayList<>();
        for (FakeModel m : models) {
          FakeBlob b = m.largestLayer();
          pulls.add(pool.submit(() -> {
            pull(http, proxy.baseUrl() + "/v2/" + m.repository() + "/blobs/" + b.digest(), b);
            return null;
          }));
        }
        // while the pulls run, keep the largest NMT summary (committed total) for the record
        while (!pulls.stream().allMatch(Future::isDone)) {
          lastPeak = proxy.peakRssBytes();
          if (proxy.sawOutOfMemory()) {
            throw new IOException("the proxy ran out of memory (OutOfMemoryError in its log), peak RSS " + Bytes.human(lastPeak));
          }
          if (nmt) {
            String s = jcmd(proxy.pid());
            long committed = nmtCommitted(s);
            if (committed > nmtPeak.get()) {
              nmtPeak.set(committed);
              nmtText[0] = s;
            }
          }
          Thread.sleep(nmt ? 500 : 100);
        }
        for (Future<?> f : pulls) {
          f.get(30, TimeUnit.MINUTES);
        }
      } finally {
        pool.shutdownNow();
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      long peak = proxy.peakRssBytes();
      if (nmt) {
        Files.writeString(work.resolve("logs").resolve(name + "-nmt.txt"), nmtText[0]);
      }
      return new Point(label, models.size(), peak, seconds, registry.stats().blobBytes() - upBefore,
          nmt ? Bytes.human(nmtPeak.get()) : "");
    } finally {
      deleteTree(cache);
    }
  }

  private static void pull(HttpClient http, String url, FakeBlob blob) throws Exception {
    HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofMinutes(20)).GET().build(),
        HttpResponse.BodyHandlers.ofInputStream());
    if (r.statusCode() != 200) {
      throw new IOException(url + " answered " + r.statusCode());
    }
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    long n = 0;
    try (InputStream in = r.body()) {
      byte[] buf = new byte[1 << 16];
      int k;
      while ((k = in.read(buf)) > 0) {
        sha.update(buf, 0, k);
        n += k;
      }
    }
    String hex = HexFormat.of().formatHex(sha.digest());
    if (n != blob.size() || !blob.digest().toString().endsWith(hex)) {
      throw new IOException(url + ": got " + n + " bytes hashing to " + hex + ", expected " + blob.size() + " bytes of " + blob.digest());
    }
  }

  private String jcmd(long pid) {
    try {
      Path jcmd = javaBin.resolveSibling("jcmd");
      Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid), "VM.native_memory", "summary").redirectErrorStream(true).start();
      String s = new String(p.getInputStream().readAllBytes());
      p.waitFor(20, TimeUnit.SECONDS);
      return s;
    } catch (IOException | InterruptedException e) {
      return "";
    }
  }

  /** The "committed=NKB" of NMT's Total line, in bytes; 0 when absent. */
  static long nmtCommitted(String summary) {
    for (String line : summary.split("\n")) {
      if (line.startsWith("Total:")) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("committed=(\\d+)KB").matcher(line);
        if (m.find()) {
          return Long.parseLong(m.group(1)) << 10;
        }
      }
    }
    return 0;
  }

  private String table(List<Point> points) {
    StringBuilder b = new StringBuilder();
    b.append(String.format(Locale.ROOT, "%nPeak RSS (VmHWM) of a fresh proxy, -Xmx%s, pulling K cold %s models at once (CDN %s/s per connection)%n",
        xmx, Bytes.human(size), Bytes.human(rate)));
    b.append(String.format(Locale.ROOT, "| %-10s | %4s | %12s | %8s | %14s |%s%n", "proxy", "K", "peak RSS", "wall s", "upstream bytes",
        nmt ? " NMT committed at peak |" : ""));
    b.append("|---|---:|---:|---:|---:|").append(nmt ? "---:|" : "").append('\n');
    for (Point p : points) {
      boolean failed = p.nmtCommitted().startsWith("failed");
      b.append(String.format(Locale.ROOT, "| %-10s | %4d | %12s | %8.1f | %14s |%s%n", p.jar(), p.k(), Bytes.human(p.peakRss()), p.seconds(),
          failed ? p.nmtCommitted() : Bytes.human(p.upstreamBytes()), nmt && !failed ? " " + p.nmtCommitted() + " |" : ""));
    }
    return b.toString();
  }

  private static void log(String s) {
    System.out.println(java.time.LocalTime.now().withNano(0) + " " + s);
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (var s = Files.walk(p)) {
      s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> {
        try {
          Files.delete(f);
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      });
    }
  }
}
