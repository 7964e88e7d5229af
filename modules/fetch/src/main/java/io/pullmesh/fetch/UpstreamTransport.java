package io.pullmesh.fetch;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * How pullmesh reaches its upstream: whom it trusts for TLS (the system's trust store, plus an optional bundle of
 * extra CA certificates, e.g. a corporate proxy's or a private registry's), and an optional HTTP proxy to go
 * through (offices that may only reach the internet via a corporate proxy).
 *
 * @param extraTrust CA certificates trusted in addition to the system's
 * @param proxy {@code http://[user:password@]host:port}, or null to connect directly
 */
public record UpstreamTransport(List<X509Certificate> extraTrust, URI proxy) {
  public UpstreamTransport {
    extraTrust = List.copyOf(extraTrust);
  }

  public static UpstreamTransport direct() {
    return new UpstreamTransport(List.of(), null);
  }

  /**
   * Reads a PEM bundle of CA certificates.
   *
   * @throws IllegalArgumentException naming the file and what is wrong with it
   */
  public static List<X509Certificate> readCertificates(Path pem) {
    try (InputStream in = Files.newInputStream(pem)) {
      List<X509Certificate> out = new ArrayList<>();
      for (var c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        out.add((X509Certificate) c);
      }
      if (out.isEmpty()) {
        throw new IllegalArgumentException(pem + " holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)");
      }
      return out;
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read " + pem + ": " + e.getMessage(), e);
    } catch (CertificateException e) {
      throw new IllegalArgumentException(pem + " is not a PEM certificate bundle: " + e.getMessage(), e);
    }
  }

  /**
   * A trust manager that accepts what the system trust store accepts, or else what {@link #extraTrust} anchors;
   * null when there is nothing extra (the HTTP client then uses the system's).
   */
  X509TrustManager trustManager() {
    if (extraTrust.isEmpty()) {
      return null;
    }
    try {
      X509TrustManager system = x509(TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()), null);
      KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
      ks.load(null, null);
      for (int i = 0; i < extraTrust.size(); i++) {
        ks.setCertificateEntry("extra-" + i, extraTrust.get(i));
      }
      X509TrustManager extra = x509(TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()), ks);
      return new X509TrustManager() {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
          system.checkClientTrusted(chain, authType);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
          try {
            system.checkServerTrusted(chain, authType);
          } catch (CertificateException notBySystem) {
            extra.checkServerTrusted(chain, authType);
          }
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
          List<X509Certificate> all = new ArrayList<>(List.of(system.getAcceptedIssuers()));
          all.addAll(extraTrust);
          return all.toArray(new X509Certificate[0]);
        }
      };
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException("cannot build the upstream trust store: " + e.getMessage(), e);
    }
  }

  private static X509TrustManager x509(TrustManagerFactory f, KeyStore ks) throws GeneralSecurityException {
    f.init(ks);
    for (TrustManager t : f.getTrustManagers()) {
      if (t instanceof X509TrustManager x) {
        return x;
      }
    }
    throw new GeneralSecurityException("no X509TrustManager");
  }

  /** The proxy's password never shows: {@code http://user:***@proxy:3128}. */
  @Override
  public String toString() {
    String p = proxy == null ? "direct" : proxy.getRawUserInfo() == null ? proxy.toString()
        : proxy.getScheme() + "://" + proxy.getRawUserInfo().split(":", 2)[0] + ":***@" + proxy.getHost() + ":" + proxy.getPort();
    return "UpstreamTransport[extraTrust=" + extraTrust.size() + " certificate(s), proxy=" + p + "]";
  }

  /** The proxy's user name and password from {@code user:password@}, or null. */
  UpstreamCredentials proxyCredentials() {
    return proxy == null ? null : UpstreamCredentials.fromUserInfo(proxy.getRawUserInfo());
  }
}
