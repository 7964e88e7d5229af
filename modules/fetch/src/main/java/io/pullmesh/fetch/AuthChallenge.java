package io.pullmesh.fetch;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * A parsed {@code WWW-Authenticate} challenge: {@code Bearer realm="https://auth/token",service="x",scope="y"}
 * or {@code Basic realm="x"}. Only the first challenge in the header is read, as registries send one.
 */
public record AuthChallenge(String scheme, Map<String, String> params) {

  public boolean isBearer() {
    return scheme.equalsIgnoreCase("bearer");
  }

  public boolean isBasic() {
    return scheme.equalsIgnoreCase("basic");
  }

  public Optional<String> param(String name) {
    return Optional.ofNullable(params.get(name.toLowerCase(Locale.ROOT)));
  }

  /** Parses a header value; empty when it is absent or does not parse. */
  public static Optional<AuthChallenge> parse(String header) {
    if (header == null) {
      return Optional.empty();
    }
    String h = header.strip();
    int sp = 0;
    while (sp < h.length() && !Character.isWhitespace(h.charAt(sp))) {
      sp++;
    }
    String scheme = h.substring(0, sp);
    if (scheme.isEmpty() || scheme.contains("=")) {
      return Optional.empty();
    }
    Map<String, String> params = new LinkedHashMap<>();
    int i = sp;
    while (i < h.length()) {
      while (i < h.length() && (Character.isWhitespace(h.charAt(i)) || h.charAt(i) == ',')) {
        i++;
      }
      int eq = h.indexOf('=', i);
      if (eq < 0) {
        break;
      }
      String key = h.substring(i, eq).strip().toLowerCase(Locale.ROOT);
      i = eq + 1;
      StringBuilder value = new StringBuilder();
      if (i < h.length() && h.charAt(i) == '"') {
        i++;
        while (i < h.length() && h.charAt(i) != '"') {
          if (h.charAt(i) == '\\' && i + 1 < h.length()) {
            i++;
          }
          value.append(h.charAt(i++));
        }
        i++;
      } else {
        while (i < h.length() && h.charAt(i) != ',') {
          value.append(h.charAt(i++));
        }
      }
      if (!key.isEmpty()) {
        params.put(key, value.toString().strip());
      }
    }
    return Optional.of(new AuthChallenge(scheme, Map.copyOf(params)));
  }
}
