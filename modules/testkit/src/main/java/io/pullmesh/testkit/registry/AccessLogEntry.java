package io.pullmesh.testkit.registry;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One line of the distribution registry's access log (Apache combined format, written to its stdout after each
 * response), e.g. {@code 127.0.0.1 - alice [22/Nov/2026:08:03:00 +0000] "GET /v2/library/tiny/blobs/sha256:ab.. HTTP/1.1" 206 3 "" "curl/7.88.1"}.
 *
 * @param user the authenticated user, or {@code -}
 * @param method {@code GET}, {@code HEAD}...
 * @param target the request target (path and query)
 * @param status the response status
 * @param bytes body bytes written ({@code -} counts as 0)
 * @param userAgent the client's User-Agent
 */
public record AccessLogEntry(String user, String method, String target, int status, long bytes, String userAgent) {
  private static final Pattern LINE =
      Pattern.compile("^\\S+ \\S+ (\\S+) \\[[^\\]]*\\] \"(\\S+) (\\S+) [^\"]*\" (\\d{3}) (\\d+|-) \"[^\"]*\" \"([^\"]*)\".*$");

  /** Parses one line; empty for anything else the registry prints on stdout. */
  public static Optional<AccessLogEntry> parse(String line) {
    Matcher m = LINE.matcher(line);
    if (!m.matches()) {
      return Optional.empty();
    }
    long bytes = m.group(5).equals("-") ? 0 : Long.parseLong(m.group(5));
    return Optional.of(new AccessLogEntry(m.group(1), m.group(2), m.group(3), Integer.parseInt(m.group(4)), bytes, m.group(6)));
  }

  /** The target without its query string. */
  public String path() {
    int q = target.indexOf('?');
    return q < 0 ? target : target.substring(0, q);
  }

  /** A GET or HEAD of {@code /v2/<name>/blobs/<digest>}. */
  public boolean isBlob(String digest) {
    return path().endsWith("/blobs/" + digest);
  }

  /** A request for {@code /v2/<name>/manifests/<reference>}. */
  public boolean isManifest() {
    return path().contains("/manifests/");
  }

  @Override
  public String toString() {
    return method + " " + target + " -> " + status + " (" + bytes + " bytes, user " + user + ", " + userAgent + ")";
  }
}
