package io.pullmesh.proxy;

import io.pullmesh.tls.CertificateAuthority;
import io.pullmesh.tls.TlsSetupException;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Clock;
import java.util.Map;
import java.util.logging.Logger;

/**
 * pullmesh's own CA, the one intercepted connections are served under: loaded from {@code --ca-dir}, or created there on
 * first start and named after this machine. Not for issuing the per-host certificates (the TLS module's key manager
 * does), nor for deciding what is intercepted ({@link ForwardProxy}).
 */
public final class InterceptCa {
  private static final Logger LOG = Logger.getLogger(InterceptCa.class.getName());

  private InterceptCa() {}

  /**
   * The CA, created on first start; null when nothing is intercepted.
   *
   * @throws IllegalStateException when it can be neither read nor created (the message says where and why)
   */
  static CertificateAuthority load(ProxyConfig.Interception interception, Clock clock) {
    if (!interception.enabled()) {
      return null;
    }
    try {
      CertificateAuthority ca = CertificateAuthority.loadOrCreate(interception.caDir(), nodeName(System.getenv()), interception.keyAlgorithm(), clock);
      if (ca.createdNow()) {
        LOG.info(() -> "created pullmesh's CA " + ca.certificateFile() + " (SHA-256 " + ca.fingerprintSha256()
            + "): clients that pull through HTTPS_PROXY must trust it (docs/interception.md)");
      }
      return ca;
    } catch (IOException | TlsSetupException e) {
      throw new IllegalStateException("pullmesh's CA in " + interception.caDir() + ": " + e.getMessage()
          + " (or turn interception off with --intercept-hosts none)", e);
    }
  }

  /** This machine's name for the CA's subject: $HOSTNAME, else the resolver's, else "pullmesh"; at most 40 characters. */
  public static String nodeName(Map<String, String> env) {
    String h = env.get("HOSTNAME");
    if (h == null || h.isBlank()) {
      try {
        h = InetAddress.getLocalHost().getHostName();
      } catch (IOException e) {
        h = "pullmesh";
      }
    }
    return h.length() > 40 ? h.substring(0, 40) : h;
  }
}
