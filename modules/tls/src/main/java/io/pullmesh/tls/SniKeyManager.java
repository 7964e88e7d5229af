package io.pullmesh.tls;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.Predicate;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.StandardConstants;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * A server-side key manager that presents, in each handshake, a leaf minted by a {@link LeafIssuer} for the host
 * the client asked for in its SNI extension ({@code ExtendedSSLSession.getRequestedServerNames()} of the
 * handshake session), or for {@code fallbackHost} when the client sent no SNI (clients do not send it for IP
 * addresses). One {@link SSLContext} built on it ({@link #serverContext}) terminates TLS for any host.
 *
 * <p>An SNI name that is not a valid host name, or that {@code allowedHost} rejects, gets no certificate, so the
 * handshake fails; so does a mint failure (an expired CA), which is logged. Only the key type of the leaves
 * ({@code EC}) is offered; the JDK asks again with it when a client lists other types first. Client-side methods
 * return nothing. Thread-safe.
 */
public final class SniKeyManager extends X509ExtendedKeyManager {
  private static final Logger LOG = Logger.getLogger(SniKeyManager.class.getName());
  private static final String ALIAS_PREFIX = "pullmesh-leaf:";
  private static final int RECENT = 256;

  private final LeafIssuer issuer;
  private final String fallbackHost;
  private final Predicate<String> allowedHost;
  /** Leaves recently chosen, by alias: the chain and key asked for right after must be that very leaf's. */
  private final Map<String, Leaf> chosen = new LinkedHashMap<>(64, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Leaf> eldest) {
      return size() > RECENT;
    }
  };

  /** A key manager that mints for any SNI name, and for {@code fallbackHost} without SNI. */
  public SniKeyManager(LeafIssuer issuer, String fallbackHost) {
    this(issuer, fallbackHost, host -> true);
  }

  /**
   * @param fallbackHost the host to present a certificate for when the client sends no SNI; {@code null} to fail
   *     such handshakes
   * @param allowedHost decides, for the normalized SNI name (lower case, no trailing dot), whether to mint for it;
   *     the fallback host is not subject to it
   */
  public SniKeyManager(LeafIssuer issuer, String fallbackHost, Predicate<String> allowedHost) {
    this.issuer = Objects.requireNonNull(issuer, "issuer");
    this.fallbackHost = fallbackHost == null ? null : HostName.parse(fallbackHost).value();
    this.allowedHost = Objects.requireNonNull(allowedHost, "allowedHost");
  }

  /** A TLS server context (TLS 1.2 and 1.3, the JDK's defaults) that presents certificates from {@code keyManager}. */
  public static SSLContext serverContext(SniKeyManager keyManager) {
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(new KeyManager[] {keyManager}, null, null);
      return ctx;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JDK cannot make a TLS context: " + e.getMessage(), e);
    }
  }

  /** {@link #serverContext(SniKeyManager)} with a {@code new SniKeyManager(issuer, fallbackHost)}. */
  public static SSLContext serverContext(LeafIssuer issuer, String fallbackHost) {
    return serverContext(new SniKeyManager(issuer, fallbackHost));
  }

  @Override
  public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
    return choose(keyType, engine == null ? null : engine.getHandshakeSession());
  }

  @Override
  public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
    SSLSession session = socket instanceof SSLSocket ? ((SSLSocket) socket).getHandshakeSession() : null;
    return choose(keyType, session);
  }

  @Override
  public X509Certificate[] getCertificateChain(String alias) {
    Leaf leaf = lookup(alias);
    return leaf == null ? null : leaf.chain();
  }

  @Override
  public PrivateKey getPrivateKey(String alias) {
    Leaf leaf = lookup(alias);
    return leaf == null ? null : leaf.privateKey();
  }

  /** Not enumerable: certificates exist only once a handshake asks for a host. */
  @Override
  public String[] getServerAliases(String keyType, Principal[] issuers) {
    return null;
  }

  @Override
  public String[] getClientAliases(String keyType, Principal[] issuers) {
    return null;
  }

  @Override
  public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
    return null;
  }

  @Override
  public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
    return null;
  }

  /** The host a handshake should get a certificate for: its SNI name, else the fallback; null for none. */
  String hostFor(SSLSession session) {
    String sni = sniName(session);
    if (sni == null) {
      return fallbackHost;
    }
    String host;
    try {
      host = HostName.parse(sni).value();
    } catch (IllegalArgumentException e) {
      LOG.log(Level.FINE, "TLS client asked for {0}: not a host name, no certificate", sni);
      return null;
    }
    if (!allowedHost.test(host)) {
      LOG.log(Level.FINE, "TLS client asked for {0}: not an allowed host, no certificate", host);
      return null;
    }
    return host;
  }

  private String choose(String keyType, SSLSession session) {
    if (!issuer.leafKeyType().equals(keyType)) {
      return null;
    }
    String host = hostFor(session);
    if (host == null) {
      return null;
    }
    Leaf leaf;
    try {
      leaf = issuer.forHost(host);
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "no TLS certificate for " + host + ": " + e.getMessage(), e);
      return null;
    }
    String alias = ALIAS_PREFIX + leaf.host() + "#" + leaf.certificate().getSerialNumber().toString(16);
    synchronized (chosen) {
      chosen.put(alias, leaf);
    }
    return alias;
  }

  private Leaf lookup(String alias) {
    if (alias == null) {
      return null;
    }
    synchronized (chosen) {
      return chosen.get(alias);
    }
  }

  private static String sniName(SSLSession session) {
    if (!(session instanceof ExtendedSSLSession)) {
      return null;
    }
    for (SNIServerName name : ((ExtendedSSLSession) session).getRequestedServerNames()) {
      if (name.getType() == StandardConstants.SNI_HOST_NAME) {
        return name instanceof SNIHostName
            ? ((SNIHostName) name).getAsciiName()
            : new SNIHostName(name.getEncoded()).getAsciiName();
      }
    }
    return null;
  }
}
