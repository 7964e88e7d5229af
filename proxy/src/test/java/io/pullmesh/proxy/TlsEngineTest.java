package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.net.JdkSSLEngineOptions;
import io.vertx.core.net.OpenSSLEngineOptions;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which TLS engine {@code --tls-engine} gives, where BoringSSL loads and where it does not. */
class TlsEngineTest {
  private static final UnsatisfiedLinkError NO_LIBRARY = new UnsatisfiedLinkError("no netty_tcnative_linux_riscv64 in java.library.path");

  @Test
  void autoTakesBoringSslWhereItLoadsAndTheJdkEngineElsewhereSayingWhy() {
    TlsEngine.Choice here = TlsEngine.AUTO.resolve(true, null, "BoringSSL");
    assertEquals(TlsEngine.OPENSSL, here.engine());
    assertTrue(here.options() instanceof OpenSSLEngineOptions);
    TlsEngine.Choice elsewhere = TlsEngine.AUTO.resolve(false, NO_LIBRARY, null);
    assertEquals(TlsEngine.JDK, elsewhere.engine());
    assertTrue(elsewhere.options() instanceof JdkSSLEngineOptions);
    assertTrue(elsewhere.description().contains("netty_tcnative_linux_riscv64"), elsewhere.description());
  }

  @Test
  void jdkIsTheJdkEngineWithoutLookingForBoringSsl() {
    assertEquals(TlsEngine.JDK, TlsEngine.JDK.resolve(true, null, "BoringSSL").engine());
    assertEquals(TlsEngine.JDK, TlsEngine.JDK.resolve().engine());
  }

  @Test
  void opensslWhereItCannotLoadIsAnErrorAtStart() {
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> TlsEngine.OPENSSL.resolve(false, NO_LIBRARY, null));
    assertTrue(e.getMessage().contains("--tls-engine auto or jdk"), e.getMessage());
  }

  @Test
  void theOptionTakesAutoOpensslOrJdkAndDefaultsToAuto() {
    assertEquals(TlsEngine.AUTO, config().interception().tlsEngine());
    assertEquals(TlsEngine.JDK, config("--tls-engine", "JDK").interception().tlsEngine());
    assertEquals(TlsEngine.OPENSSL, ((ProxyConfig.Run) ProxyConfig.parse(new String[] {"--cache-dir", "/tmp/x"},
        Map.of("PULLMESH_TLS_ENGINE", "openssl"))).config().interception().tlsEngine());
    ConfigException e = assertThrows(ConfigException.class, () -> config("--tls-engine", "gnutls"));
    assertTrue(e.getMessage().contains("auto, openssl or jdk"), e.getMessage());
  }

  private static ProxyConfig config(String... args) {
    return Harness.config("http://127.0.0.1:1", java.nio.file.Path.of("/tmp/pullmesh-tls-engine-test"), args);
  }
}
