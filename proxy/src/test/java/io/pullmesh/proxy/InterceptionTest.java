package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.Digest;
import io.pullmesh.metrics.MeterNames;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.client.PullException;
import io.pullmesh.testkit.client.PullResult;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import io.pullmesh.testkit.tools.ExternalTool;
import io.pullmesh.testkit.tools.ProcessResult;
import io.pullmesh.testkit.tools.Tools;
import io.pullmesh.tls.Pem;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Transparent interception: a client with {@code HTTPS_PROXY} pointed at pullmesh pulls by the real host name
 * registry.ollama.ai. pullmesh answers the CONNECT itself, presents a certificate for registry.ollama.ai from its
 * own CA, and serves from its cache, which fills from the configured upstream (the fake registry here). Nothing in
 * these tests resolves or reaches the real registry.ollama.ai: the client never resolves it (its proxy does), and
 * pullmesh never connects to it (it answers for it).
 */
class InterceptionTest {
  private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(60);
  @TempDir Path dir;
  @RegisterExtension final CompatibilityRecorder compat = new CompatibilityRecorder();

  private static FakeModel model(Path dir) {
    // 8 MiB in 256-512 KiB parts: the client runs its 16 parts in parallel, over 16 intercepted connections
    return ModelFixture.of("library/tiny", "latest").layer(MediaTypes.MODEL, 8L << 20).layer(MediaTypes.TEMPLATE, 311)
        .layer(MediaTypes.PARAMS, 97).create(dir.resolve("model"));
  }

  /** A client TLS context that trusts only {@code ca} (pullmesh's CA in these tests). */
  static SSLContext trusting(X509Certificate ca) throws Exception {
    KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
    ks.load(null, null);
    ks.setCertificateEntry("pullmesh", ca);
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ks);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    return ctx;
  }

  private static ClientOptions.Builder viaProxy(Harness h) {
    return ClientOptions.forTests().partSizes(256 << 10, 512 << 10)
        .proxySelector(ProxySelector.of(new InetSocketAddress("127.0.0.1", h.proxy.port())));
  }

  private double connects(Harness h, String outcome) {
    return h.proxy.meterRegistry().find(MeterNames.PROXY_CONNECTS).tag("outcome", outcome).counters().stream()
        .mapToDouble(c -> c.count()).sum();
  }

  @Test
  void anOllamaLikeClientPullsByTheRealHostNameThroughTheProxyColdThenWarm() throws Exception {
    FakeModel model = model(dir);
    try (Harness h = Harness.start(dir, model)) {
      X509Certificate ca = h.proxy.ca().certificate();
      // the JDK client verifies the host name against the certificate's subjectAltName (on by default)
      try (OllamaLikeClient client = new OllamaLikeClient(viaProxy(h).sslContext(trusting(ca)).build())) {
        PullResult cold = client.pull("https://registry.ollama.ai", "library/tiny:latest", dir.resolve("ollama1"));
        MirrorPullTest.assertSameBlobs(model, dir.resolve("ollama1"));
        assertEquals(model.manifestDigest(), cold.manifestDigest());
        h.awaitIdle();
        long upstreamBytes = h.upstream.stats().blobBytes();
        assertTrue(upstreamBytes >= model.totalBytes() && upstreamBytes <= model.totalBytes() * 1.02 + 16,
            "upstream carried " + upstreamBytes + " bytes for a model of " + model.totalBytes());
        double intercepted = connects(h, "intercepted");
        assertTrue(intercepted >= 16, "the 16 parallel parts came over intercepted connections: " + intercepted);

        client.pull("https://registry.ollama.ai", "library/tiny:latest", dir.resolve("ollama2"));
        MirrorPullTest.assertSameBlobs(model, dir.resolve("ollama2"));
        assertEquals(upstreamBytes, h.upstream.stats().blobBytes(), "a warm pull fetches nothing from upstream");
        assertEquals(model.blobs().size(), h.proxy.store().committedBlobs());
      }
      compat.row("Ollama-like client, strict URL resolution (older Ollama builds)", "testkit (server/download.go logic)",
          CompatibilityRecorder.Mode.INTERCEPTION, "testkit fake registry.ollama.ai (307 to a CDN)",
          "pull of registry.ollama.ai/library/tiny:latest by its real name, cold then warm; 16 parts over intercepted connections;"
              + " warm fetched nothing upstream");
    }
  }

  @Test
  void aClientThatDoesNotTrustTheCaFailsTheHandshakeAndGetsNothing() throws Exception {
    FakeModel model = model(dir);
    try (Harness h = Harness.start(dir, model);
        // the JDK's own trust store: pullmesh's CA is not in it
        OllamaLikeClient client = new OllamaLikeClient(viaProxy(h).maxTries(1).build())) {
      PullException e = assertThrows(PullException.class,
          () -> client.pull("https://registry.ollama.ai", "library/tiny:latest", dir.resolve("ollama")));
      String all = chain(e);
      assertTrue(all.contains("PKIX") || all.contains("certif") || all.contains("SSLHandshake"), all);
      assertEquals(0, h.upstream.stats().requests(io.pullmesh.testkit.registry.RequestKind.MANIFEST), "no request got through");
    }
  }

  private static String chain(Throwable t) {
    StringBuilder b = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      b.append(c).append('\n');
    }
    return b.toString();
  }

  /** Sends raw bytes to the proxy and reads its answer up to the end of the headers (or the connection). */
  static String rawExchange(int port, String request) throws Exception {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      return new String(readAll(s.getInputStream()), StandardCharsets.UTF_8);
    }
  }

  private static byte[] readAll(InputStream in) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buf = new byte[8192];
    int n;
    try {
      while ((n = in.read(buf)) > 0) {
        out.write(buf, 0, n);
      }
    } catch (java.net.SocketTimeoutException e) {
      // the proxy keeps the connection; what came is the answer
    }
    return out.toByteArray();
  }

  @Test
  void aConnectToAnyOtherHostIsRefusedAndSoIsAPlainProxyRequest() throws Exception {
    try (Harness h = Harness.start(dir, model(dir))) {
      String r = rawExchange(h.proxy.port(), "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
      assertTrue(r.startsWith("HTTP/1.1 403"), r);
      assertTrue(r.contains("does not tunnel to example.com:443"), r);
      String other = rawExchange(h.proxy.port(), "CONNECT registry.ollama.ai.evil.com:443 HTTP/1.1\r\nHost: x\r\n\r\n");
      assertTrue(other.startsWith("HTTP/1.1 403"), "a suffix of an allowed name is another host: " + other);
      String plain = rawExchange(h.proxy.port(), "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n");
      assertTrue(plain.startsWith("HTTP/1.1 403"), plain);
      assertTrue(plain.contains("not an open proxy"), plain);
      assertEquals(3.0, connects(h, "refused"), "two CONNECTs and one plain request refused");
    }
  }

  @Test
  void aHostOnTheTunnelListIsTunnelledUnchanged() throws Exception {
    try (java.net.ServerSocket echo = new java.net.ServerSocket(0, 10, java.net.InetAddress.getByName("127.0.0.1"));
        Harness h = Harness.start(dir, Harness.testFetchConfig(4), FakeRegistry.start(model(dir)), "--tunnel-hosts", "127.0.0.1")) {
      Thread t = new Thread(() -> {
        try (Socket c = echo.accept()) {
          byte[] b = new byte[5];
          int n = c.getInputStream().readNBytes(b, 0, 5);
          c.getOutputStream().write(("echo:" + new String(b, 0, n, StandardCharsets.US_ASCII)).getBytes(StandardCharsets.US_ASCII));
          c.getOutputStream().flush();
        } catch (Exception e) {
          // the test's assertions report it
        }
      });
      t.start();
      try (Socket s = new Socket("127.0.0.1", h.proxy.port())) {
        s.setSoTimeout(10_000);
        OutputStream out = s.getOutputStream();
        out.write(("CONNECT 127.0.0.1:" + echo.getLocalPort() + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        String head = readHead(s.getInputStream());
        assertTrue(head.startsWith("HTTP/1.1 200"), head);
        out.write("hello".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        byte[] got = s.getInputStream().readNBytes(10);
        assertEquals("echo:hello", new String(got, StandardCharsets.US_ASCII));
      }
      t.join(10_000);
      assertEquals(1.0, connects(h, "tunnelled"));
    }
  }

  private static String readHead(InputStream in) throws Exception {
    StringBuilder b = new StringBuilder();
    while (!b.toString().endsWith("\r\n\r\n")) {
      int c = in.read();
      if (c < 0) {
        break;
      }
      b.append((char) c);
    }
    return b.toString();
  }

  @Test
  void theCaIsMadeOnceWithAnOwnerOnlyKeyAndSurvivesARestart() throws Exception {
    FakeModel model = model(dir);
    String fingerprint;
    Path caDir = dir.resolve("cache").resolve("ca");
    try (FakeRegistry upstream = FakeRegistry.start(model)) {
      try (PullmeshProxy p = PullmeshProxy.start(Harness.config(upstream.registryUrl(), dir.resolve("cache")), Harness.testFetchConfig(4),
          java.time.Clock.systemUTC())) {
        fingerprint = p.ca().fingerprintSha256();
        assertEquals(EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE),
            Files.getPosixFilePermissions(caDir.resolve("ca.key")));
        String served = io.pullmesh.testkit.http.RawHttp.get(p.url() + "/ca.crt").bodyText();
        assertEquals(Files.readString(caDir.resolve("ca.crt")), served, "GET /ca.crt serves the CA certificate");
        X509Certificate cert = Pem.readCertificate(served, "GET /ca.crt");
        assertTrue(cert.getSubjectX500Principal().getName().contains("pullmesh"), cert.getSubjectX500Principal().getName());
        assertTrue(cert.getBasicConstraints() >= 0, "a CA certificate");
      }
      try (PullmeshProxy p = PullmeshProxy.start(Harness.config(upstream.registryUrl(), dir.resolve("cache")), Harness.testFetchConfig(4),
          java.time.Clock.systemUTC())) {
        assertEquals(fingerprint, p.ca().fingerprintSha256(), "the same CA after a restart");
        assertFalse(p.ca().createdNow());
      }
    }
  }

  @Test
  void theLeafNamesTheHostAndNoOtherNameGetsACertificate() throws Exception {
    try (Harness h = Harness.start(dir, model(dir))) {
      SSLContext ctx = trusting(h.proxy.ca().certificate());
      X509Certificate leaf = handshake(h, ctx, "registry.ollama.ai", "registry.ollama.ai");
      assertTrue(leaf.getSubjectAlternativeNames().toString().contains("registry.ollama.ai"), leaf.getSubjectAlternativeNames().toString());
      assertTrue(leaf.getNotAfter().getTime() - System.currentTimeMillis() < Duration.ofDays(8).toMillis(), "short-lived leaf");
      X509Certificate cdn = handshake(h, ctx, "abc.r2.cloudflarestorage.com", "abc.r2.cloudflarestorage.com");
      assertTrue(cdn.getSubjectAlternativeNames().toString().contains("abc.r2.cloudflarestorage.com"));
      // a client that CONNECTs to an intercepted host and then asks TLS for another name gets no certificate
      assertThrows(javax.net.ssl.SSLException.class, () -> handshake(h, ctx, "registry.ollama.ai", "example.com"));
    }
  }

  /** CONNECTs to {@code connectHost}:443 through the proxy and handshakes with SNI {@code sni}; the leaf presented. */
  private static X509Certificate handshake(Harness h, SSLContext ctx, String connectHost, String sni) throws Exception {
    Socket raw = new Socket("127.0.0.1", h.proxy.port());
    raw.setSoTimeout(10_000);
    raw.getOutputStream().write(("CONNECT " + connectHost + ":443 HTTP/1.1\r\nHost: " + connectHost + ":443\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    String head = readHead(raw.getInputStream());
    assertTrue(head.startsWith("HTTP/1.1 200"), head);
    try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(raw, sni, 443, true)) {
      SSLParameters p = s.getSSLParameters();
      p.setServerNames(List.of(new SNIHostName(sni)));
      p.setEndpointIdentificationAlgorithm("HTTPS");
      s.setSSLParameters(p);
      s.startHandshake();
      return (X509Certificate) s.getSession().getPeerCertificates()[0];
    }
  }

  // ------------------------------------------------------------------ curl as a subprocess

  private static ProcessResult curl(String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Tools.requireTool(ExternalTool.CURL).toString());
    cmd.addAll(Arrays.asList(args));
    return Tools.run(TOOL_TIMEOUT, cmd);
  }

  @Test
  void curlWithTheProxyAndTheCaGetsManifestAndBlobsColdAndWarm() throws Exception {
    Tools.requireTool(ExternalTool.CURL);
    FakeModel model = model(dir);
    try (Harness h = Harness.start(dir, model)) {
      String proxy = "http://127.0.0.1:" + h.proxy.port();
      String ca = h.proxy.ca().certificateFile().toString();

      ProcessResult m = curl("-sS", "-f", "--proxy", proxy, "--cacert", ca, "https://registry.ollama.ai/v2/library/tiny/manifests/latest");
      assertTrue(m.succeeded(), m.describe());
      assertEquals(new String(model.manifestBytes(), StandardCharsets.UTF_8), m.stdout());

      FakeBlob layer = model.blobs().stream().filter(b -> b.size() == 8L << 20).findFirst().orElseThrow();
      FakeBlob template = model.blobs().stream().filter(b -> b.size() == 311).findFirst().orElseThrow();
      // cold, by the registry URL (-L: the answer is the blob itself, no redirect to follow)
      Path got = dir.resolve("layer");
      ProcessResult b = curl("-sS", "-f", "-L", "--proxy", proxy, "--cacert", ca, "-o", got.toString(),
          "https://registry.ollama.ai/v2/library/tiny/blobs/" + layer.digest());
      assertTrue(b.succeeded(), b.describe());
      assertEquals(layer.digest(), MirrorPullTest.sha256(got));
      h.awaitIdle();
      long upstreamBytes = h.upstream.stats().blobBytes();

      // warm, by the CDN URL upstream's own redirect names, presigned query and all: the digest is the key
      URI presigned = URI.create(h.upstream.signedCdnUrl(layer.digest()));
      String cdnUrl = "https://dd20bb891979d25aebc8bec07b2b3bbc.r2.cloudflarestorage.com" + presigned.getRawPath() + "?" + presigned.getRawQuery();
      Path viaCdn = dir.resolve("layer-cdn");
      ProcessResult c = curl("-sS", "-f", "--proxy", proxy, "--cacert", ca, "-o", viaCdn.toString(), cdnUrl);
      assertTrue(c.succeeded(), c.describe());
      assertEquals(layer.digest(), MirrorPullTest.sha256(viaCdn));
      Path part = dir.resolve("part");
      ProcessResult range = curl("-sS", "-f", "--proxy", proxy, "--cacert", ca, "-r", "100-199", "-o", part.toString(),
          cdnUrl.replace("X-Amz-Signature=", "X-Amz-Signature=0"));
      assertTrue(range.succeeded(), range.describe());
      assertArrayEquals(Arrays.copyOfRange(Files.readAllBytes(got), 100, 200), Files.readAllBytes(part), "a range, by another signature of the same URL");
      assertEquals(upstreamBytes, h.upstream.stats().blobBytes(), "warm requests fetch nothing upstream");

      // cold, by a CDN URL: the blob's model is known from the manifest served above
      URI presignedTemplate = URI.create(h.upstream.signedCdnUrl(template.digest()));
      Path templateFile = dir.resolve("template");
      ProcessResult t = curl("-sS", "-f", "--proxy", proxy, "--cacert", ca, "-o", templateFile.toString(),
          "https://abc.r2.cloudflarestorage.com" + presignedTemplate.getRawPath() + "?" + presignedTemplate.getRawQuery());
      assertTrue(t.succeeded(), t.describe());
      assertEquals(template.digest(), MirrorPullTest.sha256(templateFile));
      h.awaitIdle();
      assertNotNull(h.proxy.store().lookup(template.digest()).orElse(null));

      // plain HTTP through the proxy (absolute-form request) is answered the same way
      ProcessResult plain = curl("-sS", "-f", "--proxy", proxy, "http://registry.ollama.ai/v2/library/tiny/manifests/latest");
      assertTrue(plain.succeeded(), plain.describe());
      assertEquals(new String(model.manifestBytes(), StandardCharsets.UTF_8), plain.stdout());

      // and without the CA, curl refuses pullmesh's certificate
      ProcessResult untrusted = curl("-sS", "-f", "--proxy", proxy, "https://registry.ollama.ai/v2/library/tiny/manifests/latest");
      assertFalse(untrusted.succeeded(), untrusted.describe());
      assertTrue(untrusted.stderr().contains("certificate"), untrusted.describe());
      compat.row("curl --proxy --cacert", CompatibilityRecorder.curlVersion(Tools.requireTool(ExternalTool.CURL)),
          CompatibilityRecorder.Mode.INTERCEPTION, "testkit fake registry.ollama.ai (307 to a CDN)",
          "manifest and blob by registry.ollama.ai URL, cold; by presigned CDN URL and a range, warm; plain-HTTP proxying;"
              + " refused without the CA");
    }
  }

  @Test
  void aCdnUrlForABlobNoServedManifestNamesIsA404ThatSaysWhy() throws Exception {
    Tools.requireTool(ExternalTool.CURL);
    try (Harness h = Harness.start(dir, model(dir))) {
      Digest unknown = Digest.ofHex("ab".repeat(32));
      ProcessResult r = curl("-sS", "--proxy", "http://127.0.0.1:" + h.proxy.port(), "--cacert", h.proxy.ca().certificateFile().toString(),
          "-w", "%{http_code}", "https://abc.r2.cloudflarestorage.com/ollama/docker/registry/v2/blobs/sha256/ab/" + unknown.hex() + "/data?X-Amz-Signature=1");
      assertTrue(r.succeeded(), r.describe());
      assertTrue(r.stdout().endsWith("404"), r.stdout());
      assertTrue(r.stdout().contains("pull its manifest through pullmesh first"), r.stdout());
    }
  }
}
