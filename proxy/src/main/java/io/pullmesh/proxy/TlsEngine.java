package io.pullmesh.proxy;

import io.netty.handler.ssl.OpenSsl;
import io.vertx.core.net.JdkSSLEngineOptions;
import io.vertx.core.net.OpenSSLEngineOptions;
import io.vertx.core.net.SSLEngineOptions;
import java.util.Locale;

/**
 * The TLS implementation intercepted connections are served with ({@code --tls-engine}): BoringSSL through
 * netty-tcnative, or the JDK's {@code SSLEngine}. {@code auto} takes BoringSSL where its native library loads (the jar
 * carries it for Linux x86-64 and aarch64 with glibc, macOS x86-64 and arm64, Windows x86-64) and the JDK's engine
 * everywhere else (musl, other CPUs), saying so once at start. Not for certificates: both engines present the same
 * per-host leaves from the SNI key manager.
 */
public enum TlsEngine {
  AUTO, OPENSSL, JDK;

  /** {@code auto}, {@code openssl} or {@code jdk}, any case. */
  public static TlsEngine parse(String value) {
    try {
      return valueOf(value.strip().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("not a TLS engine: '" + value + "' (auto, openssl or jdk)", e);
    }
  }

  /** What was asked for, resolved on this machine: the engine used, and a line for the log saying which and why. */
  record Choice(TlsEngine engine, String description) {
    SSLEngineOptions options() {
      return engine == OPENSSL ? new OpenSSLEngineOptions() : new JdkSSLEngineOptions();
    }
  }

  /**
   * This setting on this machine.
   *
   * @throws IllegalStateException for {@code openssl} where BoringSSL cannot be loaded (the message says why)
   */
  Choice resolve() {
    boolean available = this != JDK && OpenSsl.isAvailable() && OpenSsl.supportsKeyManagerFactory();
    return resolve(available, available || this == JDK ? null : OpenSsl.unavailabilityCause(), available ? OpenSsl.versionString() : null);
  }

  /**
   * As {@link #resolve()}, with what netty-tcnative reports given (tests).
   *
   * @param cause why BoringSSL is not available (null when it is, or when it was not looked for)
   * @param version BoringSSL's version string when it is available
   */
  Choice resolve(boolean openSslAvailable, Throwable cause, String version) {
    String why = cause == null ? "it cannot use pullmesh's key manager" : String.valueOf(cause.getMessage() == null ? cause : cause.getMessage());
    switch (this) {
      case JDK:
        return new Choice(JDK, "intercepted TLS is served by the JDK's engine (--tls-engine jdk)");
      case OPENSSL:
        if (!openSslAvailable) {
          throw new IllegalStateException("--tls-engine openssl: BoringSSL (netty-tcnative) cannot be loaded on this machine: " + why
              + " (use --tls-engine auto or jdk)");
        }
        return new Choice(OPENSSL, "intercepted TLS is served by " + version + " (netty-tcnative)");
      default:
        if (openSslAvailable) {
          return new Choice(OPENSSL, "intercepted TLS is served by " + version + " (netty-tcnative)");
        }
        return new Choice(JDK, "intercepted TLS is served by the JDK's engine, which is slower: BoringSSL (netty-tcnative) cannot be "
            + "loaded on this machine (" + why + ")");
    }
  }
}
