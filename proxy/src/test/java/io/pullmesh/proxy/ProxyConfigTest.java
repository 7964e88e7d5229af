package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProxyConfigTest {
  @TempDir Path dir;

  private static ProxyConfig run(Map<String, String> env, String... args) {
    return assertInstanceOf(ProxyConfig.Run.class, ProxyConfig.parse(args, env)).config();
  }

  private static String error(Map<String, String> env, String... args) {
    return assertThrows(ConfigException.class, () -> ProxyConfig.parse(args, env)).getMessage();
  }

  @Test
  void defaults() {
    ProxyConfig c = run(Map.of("XDG_CACHE_HOME", "/var/cache/x"));
    assertEquals("0.0.0.0", c.listenHost());
    assertEquals(9200, c.listenPort());
    assertEquals("https://registry.ollama.ai", c.upstream().toString());
    assertEquals(Path.of("/var/cache/x/pullmesh"), c.cacheDir());
    assertEquals(16, c.upstreamConnections());
    assertNull(c.publicUrl());
    assertEquals(Duration.ofMinutes(5), c.manifestTtl());
    assertEquals(Duration.ofSeconds(30), c.stallTimeout());
    assertEquals(Level.INFO, c.logLevel());
    assertEquals(16, c.fetchConfig().connections());
  }

  @Test
  void interceptionDefaultsAndForms() {
    ProxyConfig c = run(Map.of("XDG_CACHE_HOME", "/var/cache/x"));
    ProxyConfig.Interception i = c.interception();
    assertTrue(i.enabled());
    assertTrue(i.intercept().matches("registry.ollama.ai"));
    assertTrue(i.intercept().matches("REGISTRY.ollama.ai."), "case and a trailing dot do not matter");
    assertTrue(i.intercept().matches("dd20bb891979d25aebc8bec07b2b3bbc.r2.cloudflarestorage.com"));
    assertTrue(!i.intercept().matches("r2.cloudflarestorage.com"), "the wildcard needs a label in front");
    assertTrue(!i.intercept().matches("registry.ollama.ai.evil.com"));
    assertTrue(!i.intercept().matches("example.com"));
    assertTrue(i.tunnel().isEmpty(), "nothing is tunnelled by default");
    assertEquals(Path.of("/var/cache/x/pullmesh/ca"), i.caDir());
    assertTrue(c.upstreamTransport().extraTrust().isEmpty());
    assertNull(c.upstreamTransport().proxy());

    ProxyConfig off = run(Map.of(), "--intercept-hosts", "none", "--tunnel-hosts", "*", "--ca-dir", "/etc/pullmesh/ca",
        "--ca-key-type", "rsa-3072", "--upstream-proxy", "http://user:pw@proxy.corp:3128");
    assertTrue(!off.interception().enabled());
    assertTrue(off.interception().tunnel().matches("anything.example"));
    assertEquals(Path.of("/etc/pullmesh/ca"), off.interception().caDir());
    assertEquals(io.pullmesh.tls.KeyAlgorithm.RSA_3072, off.interception().keyAlgorithm());
    assertEquals("proxy.corp", off.upstreamTransport().proxy().getHost());
  }

  @Test
  void interceptionErrorsSayWhatToFix() throws Exception {
    assertTrue(error(Map.of(), "--intercept-hosts", "registry.ollama.ai,*.com").contains("at least two labels"));
    assertTrue(error(Map.of(), "--tunnel-hosts", "exa mple.com").contains("is not a host name"));
    assertTrue(error(Map.of(), "--upstream-proxy", "socks5://p:1080").contains("http://[user:password@]host:port"));
    assertTrue(error(Map.of(), "--upstream-proxy", "http://p").contains("host:port"));
    assertTrue(error(Map.of(), "--ca-key-type", "dsa").contains("ecdsa-p256 or rsa-3072"));
    assertTrue(error(Map.of(), "--upstream-ca", dir.resolve("missing.pem").toString()).contains("cannot read"));
    java.nio.file.Files.writeString(dir.resolve("empty.pem"), "not a certificate\n");
    String e = error(Map.of(), "--upstream-ca", dir.resolve("empty.pem").toString());
    assertTrue(e.startsWith("--upstream-ca: ") && e.contains("empty.pem"), e);
  }

  @Test
  void defaultCacheDirIsUnderTheUsersCacheDir() {
    ProxyConfig c = run(Map.of());
    assertTrue(c.cacheDir().endsWith("pullmesh") && c.cacheDir().startsWith(System.getProperty("user.home")), c.cacheDir().toString());
  }

  @Test
  void flagsBeatEnvBeatFileBeatDefaults() throws Exception {
    Path file = dir.resolve("pullmesh.properties");
    Files.writeString(file, "upstream-connections=8\nmanifest-ttl=1h\nlisten=127.0.0.1:7000\npiece-size=2m\n");
    ProxyConfig c = run(Map.of("PULLMESH_CONFIG", file.toString(), "PULLMESH_UPSTREAM_CONNECTIONS", "12", "PULLMESH_LISTEN", "127.0.0.1:8000"),
        "--listen", "127.0.0.1:9000", "--cache-dir=" + dir);
    assertEquals(9000, c.listenPort());
    assertEquals(12, c.upstreamConnections());
    assertEquals(Duration.ofHours(1), c.manifestTtl());
    assertEquals(2 << 20, c.pieceSize());
    assertEquals(2 << 20, c.fetchConfig().minPieceSize());
    assertEquals(dir, c.cacheDir());
  }

  @Test
  void listenForms() {
    assertEquals(7000, run(Map.of(), "--listen", ":7000").listenPort());
    assertEquals("0.0.0.0", run(Map.of(), "--listen", "7000").listenHost());
    ProxyConfig v6 = run(Map.of(), "--listen", "[::1]:0");
    assertEquals("::1", v6.listenHost());
    assertEquals(0, v6.listenPort());
  }

  @Test
  void publicUrlAndCredentials() throws Exception {
    Path pw = dir.resolve("pw");
    Files.writeString(pw, "s3cret\n");
    ProxyConfig c = run(Map.of(), "--public-url", "http://mirror.lan:9200", "--upstream-username", "bob", "--upstream-password-file", pw.toString());
    assertEquals("mirror.lan", c.publicUrl().getHost());
    assertEquals("bob", c.upstreamCredentials().username());
    assertEquals("s3cret", c.upstreamCredentials().password());
    assertTrue(!c.upstreamCredentials().toString().contains("s3cret"));
    assertEquals("pw", run(Map.of("PULLMESH_UPSTREAM_PASSWORD", "pw"), "--upstream-username", "bob").upstreamCredentials().password());
  }

  @Test
  void tailRacingIsOffUnlessAShareIsGiven() {
    assertEquals(0.0, run(Map.of()).fetchConfig().tailRace());
    assertEquals(0.01, run(Map.of(), "--tail-race", "1%").fetchConfig().tailRace(), 1e-9);
    assertTrue(error(Map.of(), "--tail-race", "50%").contains("--tail-race: '50%' is not valid (expected a share from 0% to 10%, such as 1%)"));
    assertTrue(error(Map.of(), "--tail-race", "0.01").contains("such as 1%"));
  }

  @Test
  void theUpstreamIsUncappedUnlessARateIsGivenAndDownloadBuffersHaveABudgetByDefault() {
    assertEquals(0, run(Map.of()).fetchConfig().upstreamRate());
    assertEquals(40L << 20, run(Map.of(), "--upstream-rate", "40m").fetchConfig().upstreamRate());
    assertEquals(5L << 20, run(Map.of("PULLMESH_UPSTREAM_RATE", "5MiB")).fetchConfig().upstreamRate());
    assertTrue(error(Map.of(), "--upstream-rate", "1k").contains("--upstream-rate: '1k' is not valid (expected bytes per second, 0 for no cap or at least 64k"));
    assertTrue(error(Map.of(), "--upstream-rate", "fast").contains("--upstream-rate: 'fast' is not valid"));
    assertEquals(32L << 20, run(Map.of()).fetchConfig().bufferMemory());
    assertEquals(256L << 10, run(Map.of(), "--download-buffer-memory", "256k").fetchConfig().bufferMemory());
    assertTrue(error(Map.of(), "--download-buffer-memory", "0").contains("expected a size of at least 256k"));
  }

  @Test
  void errorsSayWhatToFix() {
    assertTrue(error(Map.of(), "--lisen", "x").contains("unknown option --lisen; did you mean --listen?"));
    assertTrue(error(Map.of(), "--upstream-connections", "lots").contains("--upstream-connections: 'lots' is not valid (expected a whole number from 1 to 256)"));
    assertTrue(error(Map.of(), "--upstream-connections", "0").contains("1 to 256"));
    assertTrue(error(Map.of("PULLMESH_UPSTREAM_CONNECTIONS", "x")).contains("PULLMESH_UPSTREAM_CONNECTIONS: 'x'"));
    assertTrue(error(Map.of(), "--listen", "host:99999").contains("port from 0 to 65535"));
    assertTrue(error(Map.of(), "--upstream", "ftp://x").contains("http:// or https://"));
    assertTrue(error(Map.of(), "--upstream", "registry.ollama.ai").contains("http:// or https://"));
    assertTrue(error(Map.of(), "--manifest-ttl", "soon").contains("a duration"));
    assertTrue(error(Map.of(), "--piece-size", "1k").contains("64k to 64m"));
    assertTrue(error(Map.of(), "--cache-dir").contains("--cache-dir needs a value"));
    assertTrue(error(Map.of(), "serve").contains("unexpected argument 'serve'"));
    assertTrue(error(Map.of(), "--listen", "1", "--listen", "2").contains("given twice"));
    assertTrue(error(Map.of(), "--upstream-username", "bob").contains("PULLMESH_UPSTREAM_PASSWORD"));
    assertTrue(error(Map.of(), "--log-level", "loud").contains("error, warn, info, debug"));
    assertTrue(error(Map.of(), "--config", dir.resolve("missing.properties").toString()).contains("cannot read config file"));
  }

  @Test
  void configFileKeysAreChecked() throws Exception {
    Path file = dir.resolve("bad.properties");
    Files.writeString(file, "upstream-conections=8\n");
    assertTrue(error(Map.of(), "--config", file.toString()).contains("unknown key 'upstream-conections'; did you mean --upstream-connections?"));
  }

  @Test
  void unknownEnvironmentVariablesWarn() {
    var r = assertInstanceOf(ProxyConfig.Run.class, ProxyConfig.parse(new String[0], Map.of("PULLMESH_CACHEDIR", "/x")));
    assertEquals(1, r.warnings().size());
    assertTrue(r.warnings().get(0).contains("PULLMESH_CACHEDIR"));
    // the admin client's variables may well be set in the same shell: not the proxy's business, not a typo
    var admin = assertInstanceOf(ProxyConfig.Run.class, ProxyConfig.parse(new String[0],
        Map.of("PULLMESH_ADMIN_URL", "http://127.0.0.1:9200", "PULLMESH_ADMIN_TOKEN", "0123456789abcdef0")));
    assertEquals(List.of(), admin.warnings());
  }

  @Test
  void helpAndVersion() {
    String help = assertInstanceOf(ProxyConfig.Help.class, ProxyConfig.parse(new String[] {"--help"}, Map.of())).text();
    for (ProxyConfig.Option o : ProxyConfig.Option.values()) {
      assertTrue(help.contains(o.flag()) && help.contains(o.env()), o.flag());
    }
    assertTrue(assertInstanceOf(ProxyConfig.Version.class, ProxyConfig.parse(new String[] {"--version"}, Map.of())).text().contains(ProxyConfig.VERSION));
  }

  @Test
  void durations() {
    assertEquals(Duration.ofMillis(250), Durations.parse("250ms"));
    assertEquals(Duration.ofSeconds(30), Durations.parse("30s"));
    assertEquals(Duration.ofSeconds(30), Durations.parse("30"));
    assertEquals(Duration.ofDays(2), Durations.parse("2d"));
    assertEquals(Duration.ofSeconds(90), Durations.parse("PT90S"));
    assertThrows(IllegalArgumentException.class, () -> Durations.parse("5 fortnights"));
  }
}
