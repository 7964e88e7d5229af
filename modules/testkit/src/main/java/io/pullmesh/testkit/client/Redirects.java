package io.pullmesh.testkit.client;

import java.net.URI;
import java.util.Locale;

/** Go's rules for following redirects, as net/http applies them. */
final class Redirects {
  private Redirects() {}

  /** The statuses Go's client follows. */
  static boolean isRedirect(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
  }

  /** {@code url.URL.Hostname()}: the host without port, lower case, no IPv6 brackets. */
  static String hostname(URI uri) {
    String h = uri.getHost();
    if (h == null) {
      return "";
    }
    if (h.startsWith("[") && h.endsWith("]")) {
      h = h.substring(1, h.length() - 1);
    }
    return h.toLowerCase(Locale.ROOT);
  }

  /** Go's {@code url.URL.Host}: host[:port] exactly as written, without user info (Go keeps that in {@code url.URL.User}). */
  static String host(URI uri) {
    String a = uri.getRawAuthority();
    if (a == null) {
      return "";
    }
    int at = a.lastIndexOf('@');
    return at < 0 ? a : a.substring(at + 1);
  }

  /**
   * Go's {@code shouldCopyHeaderOnRedirect}: Authorization and cookies survive a redirect only to the same
   * host name or a subdomain of it (the port does not matter).
   */
  static boolean keepsSensitiveHeaders(URI initial, URI target) {
    String i = hostname(initial);
    String t = hostname(target);
    return t.equals(i) || (t.endsWith("." + i) && !i.isEmpty() && !Character.isDigit(i.charAt(i.length() - 1)));
  }
}
