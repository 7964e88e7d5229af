package io.pullmesh.fetch;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/** A username and password for the upstream registry (basic auth, or the token endpoint). Never printed. */
public record UpstreamCredentials(String username, String password) {
  /**
   * The credentials in a URL's {@code user:password@} ({@code user} alone: an empty password), as Go's net/url and
   * {@link java.net.URI} read them: split at the first raw colon, then each side percent-decoded as UTF-8, and a
   * {@code +} is a plus, not a space (that is form encoding, not a URL's).
   *
   * @param rawUserInfo {@link java.net.URI#getRawUserInfo()}, or null
   * @return null when there is no user info
   * @throws IllegalArgumentException for a malformed percent escape
   */
  public static UpstreamCredentials fromUserInfo(String rawUserInfo) {
    if (rawUserInfo == null) {
      return null;
    }
    String[] parts = rawUserInfo.split(":", 2);
    return new UpstreamCredentials(percentDecoded(parts[0]), parts.length > 1 ? percentDecoded(parts[1]) : "");
  }

  private static String percentDecoded(String raw) {
    return URLDecoder.decode(raw.replace("+", "%2B"), StandardCharsets.UTF_8);
  }

  public String basicHeader() {
    return "Basic " + Base64.getEncoder().encodeToString((username + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public String toString() {
    return "UpstreamCredentials[username=" + username + ", password=***]";
  }
}
