package io.pullmesh.tls;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Proxy;
import java.net.Socket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real TLS handshakes over loopback and in memory, with the key manager on the server and clients that trust
 * only the pullmesh CA and check host names as HTTPS clients do. Names such as registry.ollama.ai do not resolve
 * here, so clients connect to 127.0.0.1 and name the host explicitly (SNI and the name checked).
 */
class SniKeyManagerTest {
  /** JDK trust managers check validity against the real time, so the injected clock starts at it (fixed). */
  static final Instant NOW = Instant.now().truncatedTo(ChronoUnit.SECONDS);
  static final int TIMEOUT_MS = 20_000;
  static CertificateAuthority ca;
  static LeafIssuer issuer;
  static SSLContext trustingCa;
  static ExecutorService pool;
  @TempDir static Path caDir;

  @BeforeAll
  static void setUp() throws Exception {
    ca = CertificateAuthority.loadOrCreate(caDir, "test", Clock.fixed(NOW, ZoneOffset.UTC));
    issuer = new LeafIssuer(ca, Clock.fixed(NOW, ZoneOffset.UTC));
    trustingCa = TlsTestSupport.clientTrusting(ca.certificate());
    pool = Executors.newCachedThreadPool();
  }

  @AfterAll
  static void tearDown() {
    pool.shutdownNow();
  }

  interface Handler {
    void handle(SSLSocket s) throws Exception;
  }

  /** A loopback TLS server that accepts {@code connections} connections, one after another. */
  static final class Server implements AutoCloseable {
    final SSLServerSocket socket;
    final Future<List<Throwable>> done;

    Server(SSLContext ctx, int connections, Handler handler) throws IOException {
      socket = (SSLServerSocket) ctx.getServerSocketFactory().createServerSocket(0, 8, InetAddress.getLoopbackAddress());
      socket.setSoTimeout(TIMEOUT_MS);
      done = pool.submit(() -> {
        List<Throwable> failures = new ArrayList<>();
        for (int i = 0; i < connections; i++) {
          try (SSLSocket s = (SSLSocket) socket.accept()) {
            s.setSoTimeout(TIMEOUT_MS);
            handler.handle(s);
          } catch (Exception e) {
            failures.add(e);
          }
        }
        return failures;
      });
    }

    int port() {
      return socket.getLocalPort();
    }

    List<Throwable> failures() throws Exception {
      return done.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  /** Handshakes, then echoes one byte. */
  static void echoByte(SSLSocket s) throws IOException {
    s.startHandshake();
    int b = s.getInputStream().read();
    s.getOutputStream().write(b);
    s.getOutputStream().flush();
  }

  /** A client socket to 127.0.0.1 that checks {@code host}'s name as HTTPS does, and sends it as SNI if asked. */
  static SSLSocket client(SSLContext ctx, int port, String host, boolean sni, String... protocols) throws IOException {
    Socket plain = new Socket(InetAddress.getLoopbackAddress(), port);
    SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(plain, host, port, true);
    SSLParameters p = s.getSSLParameters();
    p.setEndpointIdentificationAlgorithm("HTTPS");
    p.setServerNames(sni ? List.of(new SNIHostName(host)) : List.of());
    if (protocols.length > 0) {
      p.setProtocols(protocols);
    }
    s.setSSLParameters(p);
    s.setSoTimeout(TIMEOUT_MS);
    return s;
  }

  static X509Certificate roundTrip(SSLSocket s) throws IOException {
    try (s) {
      s.startHandshake();
      s.getOutputStream().write(42);
      s.getOutputStream().flush();
      assertEquals(42, s.getInputStream().read());
      return (X509Certificate) s.getSession().getPeerCertificates()[0];
    }
  }

  static List<?> onlySan(X509Certificate c) throws Exception {
    assertEquals(1, c.getSubjectAlternativeNames().size());
    return c.getSubjectAlternativeNames().iterator().next();
  }

  @Test
  void presentsTheLeafForTheSniNameAndTheClientAcceptsIt() throws Exception {
    SSLContext server = SniKeyManager.serverContext(issuer, "registry.ollama.ai");
    try (Server srv = new Server(server, 3, SniKeyManagerTest::echoByte)) {
      SSLSocket s = client(trustingCa, srv.port(), "registry.ollama.ai", true);
      X509Certificate peer = roundTrip(s);
      assertEquals(List.of(2, "registry.ollama.ai"), onlySan(peer));
      assertEquals("TLSv1.3", s.getSession().getProtocol());

      X509Certificate r2 = roundTrip(client(trustingCa, srv.port(), "pullmesh.0123abcd.r2.cloudflarestorage.com", true));
      assertEquals(List.of(2, "pullmesh.0123abcd.r2.cloudflarestorage.com"), onlySan(r2));

      SSLSocket tls12 = client(trustingCa, srv.port(), "registry.ollama.ai", true, "TLSv1.2");
      roundTrip(tls12);
      assertEquals("TLSv1.2", tls12.getSession().getProtocol());
      assertTrue(tls12.getSession().getCipherSuite().contains("ECDSA"), tls12.getSession().getCipherSuite());
      assertEquals(List.of(), srv.failures());
    }
  }

  @Test
  void withoutSniTheFallbackHostIsUsed() throws Exception {
    SSLContext server = SniKeyManager.serverContext(issuer, "registry.ollama.ai");
    try (Server srv = new Server(server, 1, SniKeyManagerTest::echoByte)) {
      X509Certificate peer = roundTrip(client(trustingCa, srv.port(), "registry.ollama.ai", false));
      assertEquals(List.of(2, "registry.ollama.ai"), onlySan(peer));
      assertEquals(List.of(), srv.failures());
    }
  }

  @Test
  void aClientTrustingOnlyTheJdkDefaultsRefusesTheCertificate() throws Exception {
    SSLContext server = SniKeyManager.serverContext(issuer, "registry.ollama.ai");
    try (Server srv = new Server(server, 1, SniKeyManagerTest::echoByte)) {
      SSLSocket s = client(TlsTestSupport.clientTrustingJdkDefaults(), srv.port(), "registry.ollama.ai", true);
      SSLHandshakeException e = assertThrows(SSLHandshakeException.class, () -> roundTrip(s));
      assertTrue(e.getMessage().contains("PKIX path building failed"), e.getMessage());
      assertEquals(1, srv.failures().size(), "the server sees the client's alert");
    }
  }

  @Test
  void theNameCheckFailsForACertificateMintedForAnotherHost() throws Exception {
    SSLContext server = SniKeyManager.serverContext(issuer, "other.example.org");
    try (Server srv = new Server(server, 1, SniKeyManagerTest::echoByte)) {
      SSLSocket s = client(trustingCa, srv.port(), "registry.ollama.ai", false); // no SNI: the server falls back
      SSLHandshakeException e = assertThrows(SSLHandshakeException.class, () -> roundTrip(s));
      assertTrue(e.getMessage().contains("No subject alternative DNS name matching registry.ollama.ai"), e.getMessage());
      srv.failures();
    }
  }

  @Test
  void aHostOutsideTheAllowListGetsNoCertificate() throws Exception {
    SniKeyManager km = new SniKeyManager(issuer, "registry.ollama.ai",
        h -> h.equals("registry.ollama.ai") || h.endsWith(".r2.cloudflarestorage.com"));
    long before = issuer.mintedCount();
    try (Server srv = new Server(SniKeyManager.serverContext(km), 1, SniKeyManagerTest::echoByte)) {
      SSLSocket s = client(trustingCa, srv.port(), "evil.example", true);
      assertThrows(SSLException.class, () -> roundTrip(s));
      List<Throwable> failures = srv.failures();
      assertEquals(1, failures.size());
      assertTrue(failures.get(0) instanceof SSLHandshakeException, failures.get(0).toString());
      assertTrue(failures.get(0).getMessage().contains("No available authentication scheme"), failures.get(0).getMessage());
    }
    assertEquals(before, issuer.mintedCount(), "nothing minted for a refused host");
  }

  @Test
  void httpsUrlConnectionToAnIpLiteralChecksTheIpSan() throws Exception {
    SSLContext server = SniKeyManager.serverContext(issuer, "127.0.0.1");
    try (Server srv = new Server(server, 1, SniKeyManagerTest::answerHttp)) {
      URL url = new URL("https://127.0.0.1:" + srv.port() + "/v2/");
      HttpsURLConnection c = (HttpsURLConnection) url.openConnection(Proxy.NO_PROXY);
      c.setSSLSocketFactory(trustingCa.getSocketFactory());
      c.setConnectTimeout(TIMEOUT_MS);
      c.setReadTimeout(TIMEOUT_MS);
      try (InputStream in = c.getInputStream()) {
        assertEquals(200, c.getResponseCode());
        assertEquals("ok", new String(in.readAllBytes(), StandardCharsets.US_ASCII));
        X509Certificate peer = (X509Certificate) c.getServerCertificates()[0];
        assertEquals(List.of(7, "127.0.0.1"), onlySan(peer));
      } finally {
        c.disconnect();
      }
      assertEquals(List.of(), srv.failures());
    }
  }

  /** Reads an HTTP request's head and answers 200 "ok". */
  static void answerHttp(SSLSocket s) throws IOException {
    InputStream in = s.getInputStream();
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("request ended early");
      }
      head.write(b);
    }
    OutputStream out = s.getOutputStream();
    out.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".getBytes(StandardCharsets.US_ASCII));
    out.flush();
  }

  @Test
  void engineHandshakeInMemoryPicksTheSniHost() throws Exception {
    SSLContext server = SniKeyManager.serverContext(issuer, "registry.ollama.ai");
    SSLEngine serverEngine = server.createSSLEngine();
    serverEngine.setUseClientMode(false);
    SSLEngine clientEngine = trustingCa.createSSLEngine("abc.r2.cloudflarestorage.com", 443);
    clientEngine.setUseClientMode(true);
    SSLParameters p = clientEngine.getSSLParameters();
    p.setEndpointIdentificationAlgorithm("HTTPS");
    p.setServerNames(List.of(new SNIHostName("abc.r2.cloudflarestorage.com")));
    clientEngine.setSSLParameters(p);
    TlsTestSupport.handshake(clientEngine, serverEngine);
    X509Certificate peer = (X509Certificate) clientEngine.getSession().getPeerCertificates()[0];
    assertEquals(List.of(2, "abc.r2.cloudflarestorage.com"), onlySan(peer));
  }

  @Test
  void engineHandshakeFailsForAnotherHostsCertificate() throws Exception {
    SSLContext server = SniKeyManager.serverContext(issuer, "registry.ollama.ai");
    SSLEngine serverEngine = server.createSSLEngine();
    serverEngine.setUseClientMode(false);
    SSLEngine clientEngine = trustingCa.createSSLEngine("ollama.com", 443);
    clientEngine.setUseClientMode(true);
    SSLParameters p = clientEngine.getSSLParameters();
    p.setEndpointIdentificationAlgorithm("HTTPS");
    p.setServerNames(List.of()); // no SNI: the server presents registry.ollama.ai
    clientEngine.setSSLParameters(p);
    SSLHandshakeException e = assertThrows(SSLHandshakeException.class, () -> TlsTestSupport.handshake(clientEngine, serverEngine));
    assertTrue(e.getMessage().contains("ollama.com"), e.getMessage());
  }

  @Test
  void keyManagerContract() throws Exception {
    SniKeyManager km = new SniKeyManager(issuer, "registry.ollama.ai");
    String alias = km.chooseServerAlias("EC", null, null); // no handshake session: the fallback host
    assertNotNull(alias);
    Leaf leaf = issuer.forHost("registry.ollama.ai");
    assertArrayEquals(leaf.chain(), km.getCertificateChain(alias));
    assertEquals(leaf.privateKey(), km.getPrivateKey(alias));
    assertNull(km.chooseServerAlias("RSA", null, null), "leaves are EC");
    assertNull(km.chooseEngineServerAlias("RSASSA-PSS", null, null));
    assertNull(km.getCertificateChain("unknown"));
    assertNull(km.getPrivateKey(null));
    assertNull(km.getServerAliases("EC", null));
    assertNull(km.chooseClientAlias(new String[] {"EC"}, null, null));
    assertNull(km.chooseEngineClientAlias(new String[] {"EC"}, null, null));
    assertNull(km.getClientAliases("EC", null));
    assertNull(new SniKeyManager(issuer, null).chooseServerAlias("EC", null, null), "no SNI and no fallback: nothing");
    assertThrows(IllegalArgumentException.class, () -> new SniKeyManager(issuer, "not a host"));
  }

  @Test
  void trustManagerAcceptsTheChain() throws Exception {
    Leaf leaf = issuer.forHost("registry.ollama.ai");
    javax.net.ssl.X509TrustManager tm = (javax.net.ssl.X509TrustManager) TlsTestSupport.trustOnly(ca.certificate()).getTrustManagers()[0];
    tm.checkServerTrusted(leaf.chain(), "ECDHE_ECDSA");
    TlsTestSupport.pkixValidate(leaf.certificate(), ca.certificate(), NOW);
  }
}
