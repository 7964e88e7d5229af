package io.pullmesh.proxy;

import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Who may change the cache through the admin API: a pure decision, from the facts of a request to a refusal or none.
 * Not for reads (they are open), and not for serving anything.
 *
 * <p>A change needs the admin token when one is configured ({@code --admin-token}), else a client on this machine. On
 * top of either, a change must be a request that no web page can make a browser send (issue 18: a page could POST
 * {@code text/plain} to {@code /admin/v1/alias} and repoint a model):
 * <ul>
 *   <li>{@code Content-Type: application/json}: a cross-site page can send only text/plain, form or multipart bodies
 *       without a CORS preflight, which pullmesh never answers;
 *   <li>no {@code Origin} but this node's own, and no {@code Sec-Fetch-Site} but {@code same-origin} or {@code none}:
 *       what browsers attach to a request a page made;
 *   <li>without a token, a {@code Host} that is one of this node's names (an IP address, {@code localhost}, this
 *       machine's name, the {@code --listen} host, the {@code --public-url} host): a DNS-rebinding page reaches
 *       127.0.0.1 under its own name, and is refused by it.
 * </ul>
 */
final class AdminGuard {
  /** A dotted-quad IPv4 literal (its octets unchecked). */
  private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
  /** What the guard reads of a request. Header values may be null (absent). */
  record Request(String remoteAddress, String host, String authorization, String contentType, String origin, String fetchSite) {}

  private final String token;
  private final Set<String> names;

  /**
   * @param token the admin token, or null when changes are trusted to this machine
   * @param names this node's host names (lower case), besides IP literals and localhost
   */
  AdminGuard(String token, Set<String> names) {
    this.token = token;
    this.names = Set.copyOf(names);
  }

  /** The names of a node: the listen host, the public URL's host, this machine's name (as the resolver gives it). */
  static Set<String> namesOf(String listenHost, URI publicUrl) {
    java.util.Set<String> out = new java.util.HashSet<>();
    out.add(listenHost.toLowerCase(Locale.ROOT));
    if (publicUrl != null && publicUrl.getHost() != null) {
      out.add(publicUrl.getHost().toLowerCase(Locale.ROOT));
    }
    try {
      InetAddress self = InetAddress.getLocalHost();
      out.add(self.getHostName().toLowerCase(Locale.ROOT));
      out.add(self.getCanonicalHostName().toLowerCase(Locale.ROOT));
    } catch (UnknownHostException e) {
      // no name for this machine: IP addresses and localhost still work
    }
    return out;
  }

  /** Why this change is refused, as the registry error to answer with; empty when it may go ahead. */
  Optional<RegistryException> refusal(Request r) {
    if (token != null) {
      if (r.authorization() == null || !constantTimeEquals(r.authorization().strip(), "Bearer " + token)) {
        return Optional.of(new RegistryException(ErrorCode.UNAUTHORIZED,
            "this change needs Authorization: Bearer <admin token> (see --admin-token)"));
      }
    } else if (!isLoopback(r.remoteAddress())) {
      return Optional.of(denied("changes are allowed from this machine only until an admin token is configured (--admin-token)"));
    }
    String type = r.contentType() == null ? "" : r.contentType().split(";", 2)[0].strip().toLowerCase(Locale.ROOT);
    if (!type.equals("application/json")) {
      return Optional.of(new RegistryException(ErrorCode.UNSUPPORTED, 415, "a change needs Content-Type: application/json (got "
          + (r.contentType() == null ? "none" : r.contentType()) + "); the admin CLI sends it", null));
    }
    if (r.fetchSite() != null && !r.fetchSite().equalsIgnoreCase("same-origin") && !r.fetchSite().equalsIgnoreCase("none")) {
      return Optional.of(denied("refused a change a web page asked for (Sec-Fetch-Site: " + r.fetchSite() + ")"));
    }
    if (r.origin() != null && !isOwnOrigin(r.origin(), r.host())) {
      return Optional.of(denied("refused a change from the web origin " + r.origin() + ": only this node's own pages may make one"));
    }
    if (token == null && !isOwnName(r.host())) {
      return Optional.of(denied("refused a change addressed to " + r.host() + ", which is not a name of this node (DNS rebinding?); use "
          + "http://127.0.0.1:<port>, or set --admin-token to allow changes under any name"));
    }
    return Optional.empty();
  }

  private static RegistryException denied(String message) {
    return new RegistryException(ErrorCode.DENIED, message);
  }

  /** An Origin naming this very node (the host and port the request was sent to), as a page served by the node has. */
  private static boolean isOwnOrigin(String origin, String host) {
    if (host == null || origin.equalsIgnoreCase("null")) {
      return false;
    }
    try {
      URI o = new URI(origin.strip());
      String authority = o.getRawAuthority();
      return authority != null && authority.equalsIgnoreCase(host.strip());
    } catch (java.net.URISyntaxException e) {
      return false;
    }
  }

  private boolean isOwnName(String host) {
    if (host == null || host.isBlank()) {
      return false;
    }
    String h = host.strip().toLowerCase(Locale.ROOT);
    if (h.startsWith("[")) {
      return h.indexOf(']') > 0; // an IPv6 literal
    }
    int colon = h.lastIndexOf(':');
    if (colon >= 0) {
      h = h.substring(0, colon);
    }
    if (h.endsWith(".")) {
      h = h.substring(0, h.length() - 1);
    }
    return IPV4.matcher(h).matches() || h.equals("localhost") || h.endsWith(".localhost") || names.contains(h);
  }

  private static boolean constantTimeEquals(String a, String b) {
    return MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
  }

  /** Whether {@code address}, an IP literal, is a loopback address; false for anything else (never a DNS lookup). */
  static boolean isLoopback(String address) {
    if (address == null || !(address.contains(":") || IPV4.matcher(address).matches())) {
      return false;
    }
    try {
      return InetAddress.getByName(address).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }
}
