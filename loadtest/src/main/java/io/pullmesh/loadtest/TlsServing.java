package io.pullmesh.loadtest;

import io.pullmesh.loadtest.PullBenchmark.Fetch;
import io.pullmesh.tls.CertificateAuthority;
import io.pullmesh.tls.KeyAlgorithm;
import io.pullmesh.tls.Leaf;
import io.pullmesh.tls.LeafIssuer;
import io.pullmesh.tls.Pem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Warm serving over TLS: the cached blob fetched with curl through pullmesh's interception ({@code curl --proxy
 * pullmesh --cacert <pullmesh's CA> https://registry.ollama.ai/v2/<name>/blobs/<digest>}: pullmesh answers the
 * CONNECT and terminates TLS with a leaf from its CA) and from nginx over TLS ({@code ssl} on, TLS 1.2 and 1.3, a
 * leaf for registry.ollama.ai from a CA of the same kind: ECDSA P-256), alternating which goes first. The protocol and
 * cipher each side negotiated are read from {@code curl -v} and reported, so a difference shows. Every download is
 * verified (size and SHA-256).
 *
 * <p>curl reaches nginx directly: through pullmesh it goes via the CONNECT (answered, then the same connection handed
 * to pullmesh's TLS server), which is part of what an {@code HTTPS_PROXY} client gets, so it is measured, not
 * subtracted.
 */
final class TlsServing {
  static final String PULLMESH = "pullmesh-tls";
  static final String NGINX = "nginx-tls";
  static final String HOST = "registry.ollama.ai";
  /**
   * Untimed fetches through interception first: the proxy's JIT warm-up pulls go over plain HTTP, so the TLS and
   * CONNECT code would otherwise be compiled during the first timed runs.
   */
  private static final int WARM_UP_FETCHES = 2;
  private static final Pattern NEGOTIATED = Pattern.compile("SSL connection using ([^\\r\\n]+)");

  /** One timed, verified curl download of the blob (PullBenchmark's). */
  interface Fetcher {
    Fetch fetch(String server, List<String> curlArgs, String url, PullBenchmark.CpuReading serverCpu) throws Exception;
  }

  private TlsServing() {}

  /**
   * Runs the comparison, adding each fetch to {@code out}.
   *
   * @param served the file nginx serves (the proxy's cached copy of the blob)
   * @param proxyCa pullmesh's CA certificate (in its cache directory)
   * @return what each side negotiated, for the report
   */
  static String run(ProxyProcess proxy, Path proxyCa, String blobPath, Path served, Path curl, Path nginxExe, Path dir, int runs,
      Fetcher fetcher, List<Fetch> out) throws Exception {
    Files.createDirectories(dir);
    Path caDir = dir.resolve("ca");
    Path cert = dir.resolve("leaf.crt");
    Path key = dir.resolve("leaf.key");
    CertificateAuthority ca = CertificateAuthority.loadOrCreate(caDir, "nginx-baseline", KeyAlgorithm.defaultAlgorithm(), Clock.systemUTC());
    Leaf leaf = new LeafIssuer(ca, Clock.systemUTC()).forHost(HOST);
    StringBuilder chain = new StringBuilder();
    for (java.security.cert.X509Certificate c : leaf.chain()) {
      chain.append(Pem.toPem(c));
    }
    Files.writeString(cert, chain);
    Pem.writePrivateKey(key, leaf.privateKey());
    try (NginxServer nginx = NginxServer.startTls(nginxExe, served.getParent(), dir.resolve("nginx"), cert, key)) {
      List<String> viaProxy = List.of("--proxy", proxy.baseUrl(), "--cacert", proxyCa.toString());
      String pmUrl = "https://" + HOST + blobPath;
      List<String> direct = List.of("--resolve", HOST + ":" + nginx.port() + ":127.0.0.1", "--cacert", ca.certificateFile().toString());
      String ngUrl = "https://" + HOST + ":" + nginx.port() + "/" + served.getFileName();
      String negotiated = "pullmesh " + negotiated(curl, viaProxy, pmUrl, dir) + "; nginx " + negotiated(curl, direct, ngUrl, dir);
      PullBenchmark.log("TLS serving: curl through pullmesh's interception vs nginx over TLS (" + negotiated + "), " + runs + " runs each ...");
      for (int i = 0; i < WARM_UP_FETCHES; i++) {
        fetcher.fetch(PULLMESH + "-warm-up", viaProxy, pmUrl, proxy::cpuSeconds);
      }
      for (int i = 0; i < runs; i++) {
        boolean pmFirst = i % 2 == 0;
        for (int k = 0; k < 2; k++) {
          boolean pm = (k == 0) == pmFirst;
          Fetch f = pm ? fetcher.fetch(PULLMESH, viaProxy, pmUrl, proxy::cpuSeconds) : fetcher.fetch(NGINX, direct, ngUrl, nginx::cpuSeconds);
          out.add(f);
          PullBenchmark.log(String.format(Locale.ROOT, "  %-12s %.3f s, %.0f MiB/s, server CPU %.2f s", f.server(), f.seconds(),
              f.bytes() / f.seconds() / (1 << 20), f.serverCpuSeconds()));
        }
      }
      return negotiated;
    }
  }

  /** The protocol and cipher curl negotiates for {@code url}, from {@code curl -v} on its first byte. */
  private static String negotiated(Path curl, List<String> args, String url, Path scratch) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(curl.toString(), "-v", "-sS", "-f", "-r", "0-0", "-o", "/dev/null"));
    cmd.addAll(args);
    cmd.add(url);
    Subprocesses.Run run = Subprocesses.runMeasured(cmd, scratch, 60);
    if (!run.ok()) {
      throw new IllegalStateException("curl " + url + " exited with " + run.exitCode() + ": " + run.stderr());
    }
    Matcher m = NEGOTIATED.matcher(run.stderr());
    return m.find() ? m.group(1).strip() : "(not reported by curl)";
  }
}
