package io.pullmesh.fetch;

import java.net.URI;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Who an upstream registry is to pullmesh, besides its URL: the name its upstream metrics carry, the hosts that are its
 * own (they get its Authorization header; any other host, a CDN, never does), and what it authenticates with.
 *
 * @param label the {@code registry} label of upstream metrics: the configured key or the URL's host (a bounded set)
 * @param ownHosts host names that belong to the registry besides its URL's own (Hugging Face: {@code huggingface.co},
 *     where {@code hf.co} redirects blobs); lower case
 * @param credentials username and password for its challenges, or null
 * @param bearerToken a token sent as {@code Authorization: Bearer} to its own hosts from the first request (an HF token
 *     lifts Hugging Face's anonymous 429, which Ollama itself cannot send: ollama #13297), or null
 */
public record UpstreamAccess(String label, Set<String> ownHosts, UpstreamCredentials credentials, String bearerToken) {
  public UpstreamAccess {
    ownHosts = ownHosts.stream().map(h -> h.toLowerCase(Locale.ROOT)).collect(Collectors.toUnmodifiableSet());
  }

  /** Anonymous, or with {@code credentials} (may be null), labelled {@code label}. */
  public static UpstreamAccess of(String label, UpstreamCredentials credentials) {
    return new UpstreamAccess(label, Set.of(), credentials, null);
  }

  /**
   * Whether {@code url} may carry this registry's Authorization header: its base URL's scheme, host and port, or one of
   * its own hosts over that same scheme (a token never goes over plain HTTP to a registry reached over HTTPS). A CDN
   * never does.
   *
   * @param base the registry's base URL
   */
  boolean isOwn(URI base, URI url) {
    if (url.getHost() == null) {
      return false;
    }
    boolean sameScheme = url.getScheme().equalsIgnoreCase(base.getScheme());
    boolean sameOrigin = sameScheme && url.getHost().equalsIgnoreCase(base.getHost()) && port(url) == port(base);
    return sameOrigin || (sameScheme && ownHosts.contains(url.getHost().toLowerCase(Locale.ROOT)));
  }

  private static int port(URI u) {
    return u.getPort() != -1 ? u.getPort() : (u.getScheme().equalsIgnoreCase("https") ? 443 : 80);
  }

  @Override
  public String toString() {
    return "UpstreamAccess[label=" + label + ", ownHosts=" + ownHosts + ", credentials=" + credentials
        + ", bearerToken=" + (bearerToken == null ? "none" : "***") + "]";
  }
}
