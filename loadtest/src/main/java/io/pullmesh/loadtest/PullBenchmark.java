package io.pullmesh.loadtest;

import io.pullmesh.core.Digest;
import io.pullmesh.testkit.client.BlobResult;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.client.RedirectMode;
import io.pullmesh.testkit.client.PullException;
import io.pullmesh.testkit.client.PullResult;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import io.pullmesh.testkit.tools.ExternalTool;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * The pull benchmark: on one generated model and one fake registry whose CDN is throttled per TCP connection, it
 * measures side by side
 *
 * <ol>
 *   <li>an Ollama-like pull (Ollama's real part sizes: a 256 MiB blob is 3 parts) straight from the registry;
 *   <li>{@code aria2c -x16 -s16 -k1M} straight from the CDN, the reference parallel downloader;
 *   <li>the same Ollama-like pull through a cold pullmesh (a fresh proxy process, {@code -Xmx256m}, empty cache),
 *       with the upstream bytes it cost and the proxy's peak RSS and heap;
 *   <li>the same pull through the now warm pullmesh;
 *   <li>N concurrent Ollama-like clients through another cold pullmesh: wall time and upstream bytes;
 *   <li>warm serving: the cached blob fetched with curl from pullmesh and from nginx (sendfile on), medians and
 *       their ratio;
 *   <li>warm serving over TLS: the same through pullmesh's interception and from nginx over TLS ({@link TlsServing}).
 * </ol>
 *
 * Every download is verified (size and SHA-256, outside the timed window) so that a fast wrong answer cannot
 * win. Results are printed and written into {@code docs/benchmarks.md} between markers, with the command, date,
 * machine and parameters. All child processes are stopped on exit, whatever happens.
 *
 * <p>Run it with {@code loadtest/bench.sh [--option value]...}; {@code --help} lists the options.
 */
public final class PullBenchmark {
  static final String MODEL_NAME = "library/bench";
  static final String WARMUP_NAME = "library/warmup-";
  /** Warm-up pulls, the last cold ones, run at the measured CDN rate. */
  static final int THROTTLED_WARMUPS = 2;

  /** The measured scenarios, in table order. */
  enum Scenario {
    DIRECT("Ollama-like pull, direct from the registry/CDN"),
    ARIA2C("aria2c -x16 -s16 -k1M, direct from the CDN (model layer only)"),
    COLD("Ollama-like pull through pullmesh, cold cache"),
    WARM("Ollama-like pull through pullmesh, warm cache"),
    CONCURRENT("concurrent Ollama-like pulls through pullmesh, cold cache"),
    DIST_COLD("curl of the model layer through the distribution registry's proxy mode, cold cache"),
    DIST_WARM("curl of the model layer through the distribution registry's proxy mode, warm cache"),
    ARIA2C_SLOW("aria2c -x16 -s16 -k1M, direct from a CDN with slow edges (model layer only)"),
    COLD_SLOW("Ollama-like pull through pullmesh, cold cache, from a CDN with slow edges");

    final String label;

    Scenario(String label) {
      this.label = label;
    }
  }

  /**
   * One measurement.
   *
   * @param seconds wall time (for CONCURRENT: first start to last finish)
   * @param bytes bytes delivered to the client(s)
   * @param upstreamBytes blob bytes the fake registry/CDN sent during it
   * @param cpu CPU used during it
   * @param toolCpuSeconds CPU of the external tool (aria2c), else NaN
   * @param upstreamDoneSeconds when the upstream had sent the whole model layer, from the start (NaN: it did not)
   * @param clientCheckSeconds the Ollama-like client's time after its last blob: its SHA-256 of every blob
   *     (NaN for aria2c)
   * @param proxyCommitSeconds when the proxy had verified and committed the model layer, from the start (NaN
   *     without a proxy or when it did not fetch the layer)
   * @param detail a short note (parts, per-client spread)
   */
  record Measured(double seconds, long bytes, long upstreamBytes, CpuMeter.Usage cpu, double toolCpuSeconds,
      double upstreamDoneSeconds, double clientCheckSeconds, double proxyCommitSeconds, String detail) {}

  /** What a proxy process cost in memory over its life, and what it says it fetched. */
  record ProxyFacts(long peakRssAfterPull, long peakRssLifetime, ProxyProcess.HeapPeak heap, double metricUpstreamBlobBytes,
      boolean outOfMemory, Map<String, Integer> loggedErrors) {}

  /** One curl fetch of the cached blob. */
  record Fetch(String server, double seconds, long bytes, double serverCpuSeconds, double curlCpuSeconds) {}

  /** Everything one repetition measured; a failed scenario has an error instead of a measurement. */
  static final class Rep {
    final Map<Scenario, Measured> measured = new EnumMap<>(Scenario.class);
    final Map<Scenario, String> errors = new EnumMap<>(Scenario.class);
    ProxyFacts coldProxy;
    ProxyFacts concurrentProxy;
    final List<Fetch> fetches = new ArrayList<>();
    String serveError;
    /** TLS serving (TlsServing): what each side negotiated, or why it failed. */
    String tlsNegotiated;
    String tlsError;
  }

  private final BenchOptions o;
  private final Path java;
  private final Path logDir;
  private final Path scratch;
  private FakeModel model;
  private final List<FakeModel> warmups = new ArrayList<>();
  private FakeRegistry registry;
  private final AtomicInteger proxyCounter = new AtomicInteger();
  static final AtomicInteger busyWarnings = new AtomicInteger();

  private PullBenchmark(BenchOptions o) throws IOException {
    this.o = o;
    this.java = ProcessHandle.current().info().command().map(Path::of)
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java"));
    this.logDir = o.workDir().resolve("logs");
    Path shm = Path.of("/dev/shm");
    // curl writes its downloads to tmpfs when there is room, so that the disk is not what the comparison measures
    this.scratch = Files.isDirectory(shm) && Files.isWritable(shm)
        && Files.getFileStore(shm).getUsableSpace() > 3 * o.modelSize()
        ? Files.createTempDirectory(shm, "pullmesh-bench-") : Files.createDirectories(o.workDir().resolve("scratch"));
  }

  public static void main(String[] args) {
    BenchOptions o;
    try {
      o = BenchOptions.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("bench: " + e.getMessage());
      System.exit(2);
      return;
    }
    if (o == null) {
      System.out.print(BenchOptions.help());
      return;
    }
    int code;
    try {
      code = new PullBenchmark(o).run();
    } catch (Exception e) {
      System.err.println("bench: failed: " + e);
      e.printStackTrace();
      code = 1;
    }
    System.exit(code);
  }

  private int run() throws Exception {
    for (ExternalTool t : List.of(ExternalTool.ARIA2C, ExternalTool.NGINX, ExternalTool.CURL)) {
      if (!t.available()) {
        throw new IllegalStateException(t.executable() + " is not on the PATH (nginx is often in /usr/sbin)");
      }
    }
    if (!Files.isRegularFile(o.proxyJar())) {
      throw new IllegalStateException(o.proxyJar() + " is missing: build it with mvn -DskipTests package -pl loadtest -am");
    }
    Machine machine = Machine.describe(o, java);
    log("machine: " + machine.summary());
    deleteTree(o.workDir());
    Files.createDirectories(logDir);
    List<Rep> reps = new ArrayList<>();
    try {
      log("generating the model (" + human(o.modelSize()) + ") in " + o.workDir().resolve("model"));
      model = ModelFixture.of(MODEL_NAME, "latest")
          .layer(MediaTypes.MODEL, o.modelSize())
          .layer(MediaTypes.TEMPLATE, 358)
          .layer(MediaTypes.PARAMS, 96)
          .seed(20_240_601)
          .create(o.workDir().resolve("model"));
      if (o.proxyWarmupSize() > 0) {
        for (int i = 0; i < o.proxyWarmupModels(); i++) {
          warmups.add(ModelFixture.of(WARMUP_NAME + i, "latest").layer(MediaTypes.MODEL, o.proxyWarmupSize())
              .seed(1000 + i).create(o.workDir().resolve("model")));
        }
      }
      registry = FakeRegistry.builder().cdnBytesPerSecond(o.cdnRate()).requestLogCapacity(100).build();
      registry.addModel(model);
      for (FakeModel w : warmups) {
        registry.addModel(w);
      }
      registry.start();
      log("fake registry " + registry.registryUrl() + ", CDN " + registry.cdnUrl() + ", " + human(o.cdnRate())
          + "/s per connection");
      for (int i = 1; i <= o.repetitions(); i++) {
        log("=== repetition " + i + " of " + o.repetitions());
        reps.add(runRep(i));
      }
    } finally {
      if (registry != null) {
        registry.close();
      }
      deleteTree(scratch);
      if (!o.keepFiles()) {
        deleteTree(o.workDir().resolve("model"));
        deleteTree(o.workDir().resolve("run"));
      }
    }
    Report report = new Report(o, machine, model, reps, busyWarnings.get());
    String section = report.markdown();
    System.out.println();
    System.out.println(section);
    if (o.writeDoc()) {
      Report.writeInto(o.docFile(), section);
      log("wrote " + o.docFile());
    }
    log("logs of the proxies, aria2c and nginx are in " + logDir);
    return reps.stream().allMatch(r -> r.errors.isEmpty() && r.serveError == null && r.tlsError == null) ? 0 : 1;
  }

  private Rep runRep(int rep) throws IOException {
    Rep r = new Rep();
    Path run = o.workDir().resolve("run").resolve("rep-" + rep);
    Files.createDirectories(run);

    // a. Ollama-like, direct
    attempt(r, Scenario.DIRECT, () -> pullOnce(registry.registryUrl(), run.resolve("direct"), null));

    // b. aria2c -x16 direct from the CDN
    attempt(r, Scenario.ARIA2C, () -> aria2c(run.resolve("aria2c")));

    // c, d, f: one fresh proxy, cold then warm, then the warm-serving comparison with nginx
    ProxyProcess proxy = null;
    try {
      proxy = startProxy(run.resolve("cache-cold"), "proxy-" + rep + "-cold");
      ProxyProcess p = proxy;
      double metricBefore = upstreamMetric(p);
      attempt(r, Scenario.COLD, () -> pullOnce(p.baseUrl(), run.resolve("cold"), p));
      long rssAfterPull = p.peakRssBytes();
      attempt(r, Scenario.WARM, () -> pullOnce(p.baseUrl(), run.resolve("warm"), p));
      try {
        warmServing(p, run.resolve("cache-cold"), run.resolve("nginx"), r.fetches);
      } catch (Exception e) {
        r.serveError = String.valueOf(e);
        log("warm serving comparison failed: " + e);
      }
      try {
        r.tlsNegotiated = TlsServing.run(p, run.resolve("cache-cold").resolve("ca").resolve("ca.crt"), "/v2/" + MODEL_NAME + "/blobs/"
            + model.largestLayer().digest(), servedFile(run.resolve("cache-cold")), ExternalTool.CURL.find().orElseThrow(),
            ExternalTool.NGINX.find().orElseThrow(), run.resolve("tls"), o.serveRuns(),
            (server, args, url, cpu) -> curlFetch(server, curl(args), url, cpu, model.largestLayer()), r.fetches);
      } catch (Exception e) {
        r.tlsError = String.valueOf(e);
        log("TLS serving comparison failed: " + e);
      }
      r.coldProxy = facts(p, rssAfterPull, metricBefore);
    } catch (IOException e) {
      r.errors.putIfAbsent(Scenario.COLD, "proxy did not start: " + e.getMessage());
      r.errors.putIfAbsent(Scenario.WARM, "proxy did not start");
    } finally {
      if (proxy != null) {
        proxy.close();
      }
      deleteTree(run.resolve("cache-cold"));
    }

    // e. N concurrent clients through another cold proxy
    try {
      proxy = startProxy(run.resolve("cache-concurrent"), "proxy-" + rep + "-concurrent");
      ProxyProcess p = proxy;
      double metricBefore = upstreamMetric(p);
      attempt(r, Scenario.CONCURRENT, () -> concurrent(p, run.resolve("concurrent")));
      r.concurrentProxy = facts(p, p.peakRssBytes(), metricBefore);
    } catch (IOException e) {
      r.errors.putIfAbsent(Scenario.CONCURRENT, "proxy did not start: " + e.getMessage());
    } finally {
      if (proxy != null) {
        proxy.close();
      }
      deleteTree(run.resolve("cache-concurrent"));
    }
    // h, i: aria2c and a cold pullmesh on a CDN where every n-th connection is slower (an unevenly loaded edge)
    // (the slow edges are set after the proxy's warm-up, and count its kept-alive connections as they are next used)
    if (o.slowEvery() > 0) {
      proxy = null;
      try {
        registry.setCdnSlowEdges(o.slowEvery(), o.slowFactor());
        attempt(r, Scenario.ARIA2C_SLOW, () -> aria2c(run.resolve("aria2c-slow")));
        registry.setCdnSlowEdges(0, 1);
        proxy = startProxy(run.resolve("cache-slow"), "proxy-" + rep + "-slow", List.of("--tail-race", "2%"));
        ProxyProcess p = proxy;
        registry.setCdnSlowEdges(o.slowEvery(), o.slowFactor());
        attempt(r, Scenario.COLD_SLOW, () -> pullOnce(p.baseUrl(), run.resolve("cold-slow"), p));
      } catch (IOException e) {
        r.errors.putIfAbsent(Scenario.COLD_SLOW, "proxy did not start: " + e.getMessage());
      } finally {
        registry.setCdnSlowEdges(0, 1);
        if (proxy != null) {
          proxy.close();
        }
        deleteTree(run.resolve("cache-slow"));
      }
    }
    // f, g: the distribution registry (Debian docker-registry) as a pull-through cache, cold then warm. It answers
    // blob GETs with a plain 200, which older Ollama builds refuse (#7244): the client resolves URLs leniently here.
    java.util.Optional<Path> dist = io.pullmesh.testkit.tools.Tools.which("docker-registry");
    if (dist.isEmpty()) {
      r.errors.put(Scenario.DIST_COLD, "docker-registry is not installed (apt-get install docker-registry)");
      r.errors.put(Scenario.DIST_WARM, "docker-registry is not installed");
    } else {
      try (DistributionProxy d = DistributionProxy.start(dist.get(), registry.registryUrl(), run.resolve("distribution"), logDir,
          "distribution-" + rep)) {
        log("distribution registry proxy (pid " + d.pid() + ") on " + d.baseUrl());
        // an Ollama-like pull stops at the manifest: the registry's proxy resolves a tag by the Docker-Content-Digest
        // of a HEAD, which the fake registry.ollama.ai does not send ("manifest unknown"); so the layer by curl
        String why = "";
        try {
          pullOnce(d.baseUrl(), run.resolve("dist-pull"), null, RedirectMode.LENIENT);
        } catch (Exception e) {
          why = "an Ollama-like pull through it fails: " + e.getMessage();
          log("  " + why);
        }
        String note = why;
        attempt(r, Scenario.DIST_COLD, () -> curlLayer(d.baseUrl(), note));
        attempt(r, Scenario.DIST_WARM, () -> curlLayer(d.baseUrl(), note));
      } catch (IOException e) {
        r.errors.putIfAbsent(Scenario.DIST_COLD, "docker-registry did not start: " + e.getMessage());
        r.errors.putIfAbsent(Scenario.DIST_WARM, "docker-registry did not start");
      }
    }
    deleteTree(run);
    return r;
  }

  interface Phase {
    Measured run() throws Exception;
  }

  private void attempt(Rep r, Scenario s, Phase phase) {
    waitForQuiet();
    log(s.label + " ...");
    try {
      Measured m = phase.run();
      r.measured.put(s, m);
      log(String.format(Locale.ROOT, "  %.2f s, %.1f MiB/s, upstream %d bytes (%.4fx the model), upstream done at"
          + " %.2f s, proxy committed at %.2f s, client checks %.2f s, CPU: proxy %.2f s, client JVM %.2f s, fake upstream %.2f s, tool %.2f s,"
          + " rest of machine %.2f s%s", m.seconds(), m.bytes() / m.seconds() / (1 << 20), m.upstreamBytes(),
          (double) m.upstreamBytes() / model.totalBytes(), m.upstreamDoneSeconds(), m.proxyCommitSeconds(),
          m.clientCheckSeconds(),
          m.cpu().proxySeconds(), m.cpu().clientSeconds(), m.cpu().upstreamSeconds(), m.toolCpuSeconds(),
          m.cpu().restSeconds(m.toolCpuSeconds()), m.detail().isEmpty() ? "" : ", " + m.detail()));
      if (!m.cpu().proxyThreads().isEmpty()) {
        log("  proxy CPU by thread group: " + m.cpu().proxyThreads().entrySet().stream()
            .map(e -> String.format(Locale.ROOT, "%s %.2f s", e.getKey(), e.getValue())).toList());
      }
    } catch (Exception e) {
      r.errors.put(s, e.getMessage() == null ? e.toString() : e.getMessage());
      log("  FAILED: " + e);
    }
  }

  // ---- phases ----

  /** One Ollama-like pull with Ollama's defaults into a fresh directory; verified, then deleted. */
  private Measured pullOnce(String baseUrl, Path dest, ProxyProcess proxy) throws Exception {
    return pullOnce(baseUrl, dest, proxy, RedirectMode.STRICT);
  }

  private Measured pullOnce(String baseUrl, Path dest, ProxyProcess proxy, RedirectMode redirects) throws Exception {
    long up0 = registry.stats().blobBytes();
    long startMillis = System.currentTimeMillis();
    CpuMeter meter = CpuMeter.start(proxy);
    PullResult result;
    double upstreamDone;
    try (OllamaLikeClient client = new OllamaLikeClient(ClientOptions.builder().redirectMode(redirects).build());
        UpstreamWatch watch = new UpstreamWatch(registry, model.largestLayer().size())) {
      result = client.pull(baseUrl, model.reference(), dest);
      upstreamDone = watch.doneSeconds();
    }
    CpuMeter.Usage cpu = meter.stop();
    long upstream = registry.stats().blobBytes() - up0;
    verifyPull(result, dest);
    deleteTree(dest);
    BlobResult big = result.blobs().stream().max(Comparator.comparingLong(BlobResult::size)).orElseThrow();
    String detail = big.parts() + " parts for the model layer"
        + (result.retries() + result.stalls() > 0 ? ", " + result.retries() + " retries, " + result.stalls() + " stalls" : "");
    return new Measured(result.elapsed().toNanos() / 1e9, model.totalBytes(), upstream, cpu, Double.NaN,
        upstreamDone, clientCheckSeconds(result), commitSeconds(proxy, startMillis), detail);
  }

  /** The model layer fetched whole by curl from {@code baseUrl} (a registry), verified; the upstream bytes it cost. */
  private Measured curlLayer(String baseUrl, String note) throws Exception {
    FakeBlob layer = model.largestLayer();
    Path curl = ExternalTool.CURL.find().orElseThrow();
    Path file = scratch.resolve("curl-layer");
    Files.createDirectories(scratch);
    Files.deleteIfExists(file);
    long up0 = registry.stats().blobBytes();
    CpuMeter meter = CpuMeter.start(null);
    Subprocesses.Run run = Subprocesses.runMeasured(List.of(curl.toString(), "-sS", "-L", "-o", file.toString(), "-w",
        "%{http_code} %{size_download} %{time_total}", baseUrl + "/v2/" + MODEL_NAME + "/blobs/" + layer.digest()), scratch, 600);
    CpuMeter.Usage cpu = meter.stop();
    if (!run.ok()) {
      throw new IllegalStateException("curl exited with " + run.exitCode() + ": " + run.stderr());
    }
    String[] f = run.stdout().trim().split("\\s+");
    if (!f[0].equals("200")) {
      throw new IllegalStateException("curl: HTTP " + f[0]);
    }
    Hashing.verify(file, layer.digest(), layer.size(), "distribution proxy via curl");
    Files.deleteIfExists(file);
    return new Measured(Double.parseDouble(f[2]), layer.size(), registry.stats().blobBytes() - up0, cpu, run.cpuSeconds(),
        Double.NaN, Double.NaN, Double.NaN, "model layer only, one curl stream" + (note.isEmpty() ? "" : "; " + note));
  }

  private Measured aria2c(Path dir) throws Exception {
    Files.createDirectories(dir);
    FakeBlob layer = model.largestLayer();
    String url = registry.signedCdnUrl(layer.digest());
    Path aria = ExternalTool.ARIA2C.find().orElseThrow();
    long up0 = registry.stats().blobBytes();
    CpuMeter meter = CpuMeter.start(null);
    UpstreamWatch watch = new UpstreamWatch(registry, layer.size());
    Subprocesses.Run run = Subprocesses.runMeasured(List.of(aria.toString(),
        "-x16", "-s16", "-k1M",
        "--dir=" + dir, "--out=blob",
        "--file-allocation=none", "--allow-overwrite=true", "--auto-file-renaming=false",
        "--disable-ipv6=true", "--summary-interval=0", "--quiet=true",
        "--log=" + logDir.resolve("aria2c.log"), "--log-level=warn",
        url), dir, 1800);
    watch.close();
    CpuMeter.Usage cpu = meter.stop();
    long upstream = registry.stats().blobBytes() - up0;
    if (!run.ok()) {
      throw new IllegalStateException("aria2c exited with " + run.exitCode() + ": " + run.stderr() + " (see "
          + logDir.resolve("aria2c.log") + ")");
    }
    Hashing.verify(dir.resolve("blob"), layer.digest(), layer.size(), "aria2c download");
    deleteTree(dir);
    return new Measured(run.wallSeconds(), layer.size(), upstream, cpu, run.cpuSeconds(), watch.doneSeconds(),
        Double.NaN, Double.NaN, "16 connections");
  }

  private Measured concurrent(ProxyProcess proxy, Path dir) throws Exception {
    int n = o.concurrentClients();
    List<OllamaLikeClient> clients = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(n, r -> {
      Thread t = new Thread(r, "bench-client");
      t.setDaemon(true);
      return t;
    });
    try {
      for (int i = 0; i < n; i++) {
        clients.add(new OllamaLikeClient(ClientOptions.defaults()));
      }
      CountDownLatch go = new CountDownLatch(1);
      List<Future<long[]>> futures = new ArrayList<>();
      List<PullResult> results = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        OllamaLikeClient c = clients.get(i);
        Path dest = dir.resolve("client-" + i);
        futures.add(pool.submit(() -> {
          go.await();
          long t0 = System.nanoTime();
          PullResult res = c.pull(proxy.baseUrl(), model.reference(), dest);
          long t1 = System.nanoTime();
          synchronized (results) {
            results.add(res);
          }
          return new long[] {t0, t1};
        }));
      }
      long up0 = registry.stats().blobBytes();
      long startMillis = System.currentTimeMillis();
      CpuMeter meter = CpuMeter.start(proxy);
      UpstreamWatch watch = new UpstreamWatch(registry, model.largestLayer().size());
      go.countDown();
      long first = Long.MAX_VALUE;
      long last = Long.MIN_VALUE;
      List<Double> each = new ArrayList<>();
      for (Future<long[]> f : futures) {
        long[] t;
        try {
          t = f.get(30, TimeUnit.MINUTES);
        } catch (java.util.concurrent.ExecutionException e) {
          throw e.getCause() instanceof PullException pe ? pe : e;
        }
        first = Math.min(first, t[0]);
        last = Math.max(last, t[1]);
        each.add((t[1] - t[0]) / 1e9);
      }
      watch.close();
      CpuMeter.Usage cpu = meter.stop();
      long upstream = registry.stats().blobBytes() - up0;
      for (int i = 0; i < n; i++) {
        // results are in completion order; each went to its own directory
        Path dest = dir.resolve("client-" + i);
        verifyFiles(dest, "client " + i);
      }
      for (PullResult res : results) {
        checkManifest(res);
      }
      deleteTree(dir);
      each.sort(Double::compare);
      String detail = String.format(Locale.ROOT, "%d clients, each %.1f / %.1f / %.1f s (min / median / max)", n,
          each.get(0), Stats.median(each), each.get(each.size() - 1));
      List<Double> checks = new ArrayList<>();
      for (PullResult res : results) {
        checks.add(clientCheckSeconds(res));
      }
      return new Measured((last - first) / 1e9, n * model.totalBytes(), upstream, cpu, Double.NaN,
          watch.doneSeconds(), Stats.median(checks), commitSeconds(proxy, startMillis), detail);
    } finally {
      for (OllamaLikeClient c : clients) {
        c.close();
      }
      pool.shutdownNow();
    }
  }

  /** The cached blob fetched with curl from pullmesh and from nginx, alternating which goes first. */
  private void warmServing(ProxyProcess proxy, Path cacheDir, Path nginxDir, List<Fetch> out) throws Exception {
    FakeBlob layer = model.largestLayer();
    Path served = servedFile(cacheDir);
    Path curl = ExternalTool.CURL.find().orElseThrow();
    Path nginxExe = ExternalTool.NGINX.find().orElseThrow();
    log("warm serving: curl from pullmesh vs nginx (" + served + "), " + o.serveRuns() + " runs each ...");
    try (NginxServer nginx = NginxServer.start(nginxExe, served.getParent(), nginxDir)) {
      String pmUrl = proxy.baseUrl() + "/v2/" + MODEL_NAME + "/blobs/" + layer.digest();
      String ngUrl = nginx.url(served.getFileName().toString());
      for (int i = 0; i < o.serveRuns(); i++) {
        boolean pmFirst = i % 2 == 0;
        for (int k = 0; k < 2; k++) {
          boolean pm = (k == 0) == pmFirst;
          Fetch f = pm ? curlFetch("pullmesh", curl, pmUrl, proxy::cpuSeconds, layer)
              : curlFetch("nginx", curl, ngUrl, nginx::cpuSeconds, layer);
          out.add(f);
          log(String.format(Locale.ROOT, "  %-8s %.3f s, %.0f MiB/s, server CPU %.2f s", f.server(), f.seconds(),
              f.bytes() / f.seconds() / (1 << 20), f.serverCpuSeconds()));
        }
      }
    }
  }

  /** The proxy's cached file of the model layer, which nginx serves too (the fixture's copy if it is not there). */
  private Path servedFile(Path cacheDir) {
    FakeBlob layer = model.largestLayer();
    String hex = layer.digest().hex();
    Path cached = cacheDir.resolve("blobs").resolve(Digest.ALGORITHM).resolve(hex.substring(0, 2)).resolve(hex);
    if (Files.isRegularFile(cached)) {
      return cached;
    }
    log("  the proxy's cached file is not at " + cached + "; nginx serves the fixture's copy instead");
    return layer.file();
  }

  /** curl and {@code args} (before the fixed ones curlFetch adds). */
  private static List<String> curl(List<String> args) {
    List<String> c = new ArrayList<>();
    c.add(ExternalTool.CURL.find().orElseThrow().toString());
    c.addAll(args);
    return c;
  }

  interface CpuReading {
    double seconds();
  }

  private Fetch curlFetch(String server, Path curl, String url, CpuReading serverCpu, FakeBlob layer) throws Exception {
    return curlFetch(server, List.of(curl.toString()), url, serverCpu, layer);
  }

  /** @param curl curl and any options of its own (a proxy, a CA) */
  private Fetch curlFetch(String server, List<String> curl, String url, CpuReading serverCpu, FakeBlob layer) throws Exception {
    Path file = scratch.resolve("curl-download");
    Files.deleteIfExists(file);
    double cpu0 = serverCpu.seconds();
    List<String> cmd = new ArrayList<>(curl);
    cmd.addAll(List.of("-sS", "-o", file.toString(), "-w", "%{http_code} %{size_download} %{time_total}", url));
    Subprocesses.Run run = Subprocesses.runMeasured(cmd, scratch, 600);
    double cpu1 = serverCpu.seconds();
    if (!run.ok()) {
      throw new IllegalStateException("curl " + url + " exited with " + run.exitCode() + ": " + run.stderr());
    }
    String[] f = run.stdout().trim().split("\\s+");
    if (!f[0].equals("200")) {
      throw new IllegalStateException("curl " + url + ": HTTP " + f[0]);
    }
    Hashing.verify(file, layer.digest(), layer.size(), server + " via curl");
    Files.deleteIfExists(file);
    return new Fetch(server, Double.parseDouble(f[2]), Long.parseLong(f[1]), cpu1 - cpu0, run.cpuSeconds());
  }

  /** When the proxy logged the model layer committed, in seconds from {@code startMillis}; NaN if it did not. */
  private double commitSeconds(ProxyProcess proxy, long startMillis) {
    if (proxy == null) {
      return Double.NaN;
    }
    long at = proxy.committedAtMillis(model.largestLayer().digest().toString());
    return at < startMillis ? Double.NaN : (at - startMillis) / 1e3;
  }

  /** The pull's time after its blobs were downloaded: the client's SHA-256 of each (and writing the manifest). */
  private static double clientCheckSeconds(PullResult r) {
    long blobs = 0;
    for (BlobResult b : r.blobs()) {
      blobs += b.elapsed().toNanos();
    }
    return Math.max(0, r.elapsed().toNanos() - blobs) / 1e9;
  }

  /**
   * Waits (up to {@code --quiet-wait}) until the machine is quiet: other work on it (a build, say) takes CPU the
   * benchmark needs and skews every number.
   */
  private void waitForQuiet() {
    long deadline = System.nanoTime() + (long) (o.quietWaitSeconds() * 1e9);
    double busy = CpuMeter.machineBusy(1000);
    boolean waited = false;
    while (busy > o.quietThreshold() && System.nanoTime() < deadline) {
      if (!waited) {
        log(String.format(Locale.ROOT, "the machine is %.0f%% busy before the next phase; waiting for it to settle"
            + " (up to %.0f s)", busy * 100, o.quietWaitSeconds()));
        waited = true;
      }
      busy = CpuMeter.machineBusy(2000);
    }
    if (busy > o.quietThreshold()) {
      log(String.format(Locale.ROOT, "WARNING: the machine is still %.0f%% busy; measuring anyway", busy * 100));
      busyWarnings.incrementAndGet();
    }
  }

  // ---- proxy ----

  private ProxyProcess startProxy(Path cacheDir, String label) throws IOException {
    return startProxy(cacheDir, label, List.of());
  }

  private ProxyProcess startProxy(Path cacheDir, String label, List<String> proxyArgs) throws IOException {
    Files.createDirectories(cacheDir);
    proxyCounter.incrementAndGet();
    ProxyProcess p = ProxyProcess.start(java, o.proxyJar(), o.proxyXmx(), o.proxyJvmArgs(), registry.registryUrl(),
        cacheDir, o.proxyConnections(), logDir, label, proxyArgs);
    log("proxy " + label + " (pid " + p.pid() + ") on " + p.baseUrl());
    if (!warmups.isEmpty()) {
      warmUp(p, cacheDir.getParent().resolve(label + "-warmup"));
    }
    return p;
  }

  /**
   * JIT warm-up, so that the proxy is measured as one that has been serving for a while rather than a JVM that
   * is still compiling its data path: the warm-up models are pulled cold, alternately by a client with many small
   * parts (many readers of one download) and by a default client, and the first one once more from the cache. The
   * CDN is unthrottled for them but the last {@link #THROTTLED_WARMUPS}, which run at the measured rate: an
   * unthrottled pull takes bigger socket reads and never pauses, so without them the throttled path's methods were
   * still being compiled by C2 during the measured cold pull (about 1 CPU-second of it at 16 MB/s per connection).
   * Logs what the JIT compilers used in each round.
   */
  private void warmUp(ProxyProcess p, Path dest) throws IOException {
    ClientOptions manyParts = ClientOptions.builder().partSizes(2 << 20, 4 << 20).build();
    List<String> jit = new ArrayList<>();
    try (OllamaLikeClient many = new OllamaLikeClient(manyParts);
        OllamaLikeClient plain = new OllamaLikeClient(ClientOptions.defaults())) {
      for (int i = 0; i <= warmups.size(); i++) {
        double before = jitSeconds(p);
        FakeModel w = warmups.get(i % warmups.size());
        registry.setCdnBytesPerSecond(i >= warmups.size() - THROTTLED_WARMUPS ? o.cdnRate() : 0);
        (i % 2 == 0 ? many : plain).pull(p.baseUrl(), w.reference(), dest.resolve(Integer.toString(i)));
        deleteTree(dest.resolve(Integer.toString(i)));
        jit.add(String.format(Locale.ROOT, "%.2f", jitSeconds(p) - before));
      }
    } catch (PullException e) {
      p.close();
      throw new IOException("warm-up pull through the proxy failed: " + e.getMessage(), e);
    } finally {
      registry.setCdnBytesPerSecond(o.cdnRate());
      deleteTree(dest);
    }
    log("  warmed up: JIT compiler CPU seconds per warm-up pull " + jit);
  }

  private static double jitSeconds(ProxyProcess p) {
    return Proc.threads(p.pid()).values().stream().filter(t -> Proc.threadGroup(t.name()).equals("JIT compilers"))
        .mapToDouble(Proc.ThreadCpu::seconds).sum();
  }

  private static double upstreamMetric(ProxyProcess p) {
    try {
      return ProxyProcess.metric(p.metrics(), "pullmesh_upstream_bytes_total", "kind=\"blob\"");
    } catch (IOException e) {
      return Double.NaN;
    }
  }

  private ProxyFacts facts(ProxyProcess p, long rssAfterPull, double metricBefore) {
    String label = "proxy-" + p.pid();
    try {
      Files.writeString(logDir.resolve(label + "-metrics.txt"), p.metrics());
    } catch (IOException e) {
      // the metrics snapshot is only for investigation
    }
    return new ProxyFacts(rssAfterPull, Math.max(rssAfterPull, p.peakRssBytes()), p.heapPeak(),
        upstreamMetric(p) - metricBefore, p.sawOutOfMemory(), p.loggedErrors());
  }

  // ---- verification ----

  private void verifyPull(PullResult result, Path dest) throws IOException {
    checkManifest(result);
    verifyFiles(dest, "pull into " + dest);
  }

  private void checkManifest(PullResult result) {
    if (!result.manifestDigest().equals(model.manifestDigest())) {
      throw new IllegalStateException("pulled manifest " + result.manifestDigest() + ", want " + model.manifestDigest());
    }
  }

  private void verifyFiles(Path dest, String what) throws IOException {
    for (FakeBlob b : model.blobs()) {
      Hashing.verify(dest.resolve("blobs").resolve("sha256-" + b.digest().hex()), b.digest(), b.size(), what);
    }
  }

  // ---- helpers ----

  static String human(long bytes) {
    return io.pullmesh.core.Bytes.human(bytes);
  }

  static void log(String line) {
    System.err.println("[bench " + LocalTime.now().withNano(0) + "] " + line);
  }

  static void deleteTree(Path root) {
    if (root == null || !Files.exists(root)) {
      return;
    }
    try (Stream<Path> s = Files.walk(root)) {
      List<Path> all = s.sorted(Comparator.reverseOrder()).toList();
      for (Path p : all) {
        if (Files.isDirectory(p)) {
          p.toFile().setWritable(true); // the proxy's cache keeps its blob directories read-only
        }
      }
      for (Path p : all) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("deleting " + root, e);
    }
  }

  static LocalDate today() {
    return LocalDate.now();
  }
}
