package io.pullmesh.proxy;

import io.pullmesh.fetch.UpstreamCredentials;
import io.pullmesh.proxy.ProxyConfig.NamedUpstream;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The value of {@code --upstreams}: {@code KEY=URL[;username=U;password-file=F;token-file=F;own-hosts=H|H],...}, a
 * namespace or a registry host each (see {@link NamedUpstream}).
 */
final class UpstreamList {
  private UpstreamList() {}

  /**
   * @param where how the value was given, for messages ({@code --upstreams}, {@code PULLMESH_UPSTREAMS}, ...)
   * @throws ConfigException naming the bad entry and what is expected
   */
  static List<NamedUpstream> parse(String value, String where) {
    String example = " (expected NS=URL or HOST=URL, each [;username=U;password-file=F;token-file=F;own-hosts=H|H], separated by commas, "
        + "e.g. corp=https://registry.corp.example/team or hf.co=https://hf.co;token-file=/etc/pullmesh/hf.token)";
    List<NamedUpstream> out = new ArrayList<>();
    java.util.Set<String> seen = new java.util.HashSet<>();
    for (String entry : value.split(",")) {
      if (entry.isBlank()) {
        continue;
      }
      String[] parts = entry.strip().split(";");
      int eq = parts[0].indexOf('=');
      if (eq <= 0) {
        throw new ConfigException(where + ": '" + entry.strip() + "' has no NS=URL" + example);
      }
      String ns = parts[0].substring(0, eq).strip();
      boolean host = ns.contains(".");
      if (host ? !ns.matches("[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+") : !ns.matches("[a-z0-9]+([_-][a-z0-9]+)*")
          || ns.equals("library")) {
        throw new ConfigException(where + ": '" + ns + "' is not a namespace or registry host pullmesh can route (a namespace: lower-case "
            + "letters, digits, _ and -; a host: lower-case DNS labels joined by dots, e.g. hf.co; library is registry.ollama.ai's, set "
            + "--upstream to replace it)");
      }
      if (!seen.add(ns)) {
        throw new ConfigException(where + ": " + (host ? "registry host " : "namespace ") + ns + " given twice");
      }
      URI url;
      try {
        url = new URI(parts[0].substring(eq + 1).strip());
        if (url.getScheme() == null || !(url.getScheme().equals("http") || url.getScheme().equals("https")) || url.getHost() == null
            || url.getRawQuery() != null) {
          throw new IllegalArgumentException();
        }
      } catch (java.net.URISyntaxException | IllegalArgumentException e) {
        throw new ConfigException(where + ": '" + Redaction.text(parts[0].substring(eq + 1).strip()) + "' is not an http:// or https:// URL" + example);
      }
      String path = url.getRawPath() == null ? "" : url.getRawPath().replaceAll("^/+|/+$", "");
      String remoteNs = path.isEmpty() ? null : path;
      if (remoteNs != null && host) {
        throw new ConfigException(where + ": the registry of host " + ns + " is a URL without a path (names keep their own "
            + "namespaces there), not " + Redaction.url(url));
      }
      if (remoteNs != null) {
        try {
          io.pullmesh.core.RepositoryName.parse(remoteNs + "/x");
        } catch (IllegalArgumentException e) {
          throw new ConfigException(where + ": the path of " + Redaction.url(url) + " is not a namespace: " + e.getMessage());
        }
      }
      Map<String, String> settings = new LinkedHashMap<>();
      for (int i = 1; i < parts.length; i++) {
        String kv = parts[i].strip();
        int e = kv.indexOf('=');
        String key = e < 0 ? kv : kv.substring(0, e);
        if (kv.isEmpty()) {
          continue;
        }
        if (e < 0 || !List.of("username", "password-file", "token-file", "own-hosts").contains(key)) {
          throw new ConfigException(where + ": unknown setting '" + kv + "' for " + ns + " (username=..., password-file=..., token-file=..., own-hosts=...)");
        }
        settings.put(key, kv.substring(e + 1));
      }
      String user = settings.get("username");
      String passwordFile = settings.get("password-file");
      UpstreamCredentials c = null;
      if (url.getRawUserInfo() != null) {
        if (user != null || passwordFile != null) {
          throw new ConfigException(where + ": " + ns + "'s URL carries credentials and username=/password-file= are set too: give them once");
        }
        c = UpstreamCredentials.fromUserInfo(url.getRawUserInfo());
      } else if (user != null) {
        if (passwordFile == null) {
          throw new ConfigException(where + ": " + ns + " has a username but no password-file=FILE");
        }
        c = new UpstreamCredentials(user, readSecret(where, "the password file of " + ns, passwordFile));
      } else if (passwordFile != null) {
        throw new ConfigException(where + ": " + ns + " has a password-file but no username=NAME");
      }
      String token = settings.containsKey("token-file") ? readSecret(where, "the token file of " + ns, settings.get("token-file")) : null;
      if (token != null && token.isEmpty()) {
        throw new ConfigException(where + ": the token file of " + ns + ", " + settings.get("token-file") + ", is empty");
      }
      java.util.Set<String> own = new java.util.LinkedHashSet<>();
      if (settings.containsKey("own-hosts")) {
        for (String h : settings.get("own-hosts").split("\\|")) {
          if (!h.isBlank()) {
            own.add(h.strip().toLowerCase(Locale.ROOT));
          }
        }
      } else if (host) {
        ProxyConfig.BUILT_IN_HOSTS.stream().filter(b -> b.namespace().equals(ns)).findFirst().ifPresent(b -> own.addAll(b.ownHosts()));
      }
      URI base = URI.create(url.getScheme() + "://" + url.getRawAuthority());
      out.add(new NamedUpstream(ns, base, remoteNs, c, token, own));
    }
    return List.copyOf(out);
  }

  /** The URL without its {@code user:password@}. */
  static URI withoutUserInfo(URI url) {
    return URI.create(url.getScheme() + "://" + url.getRawAuthority().substring(url.getRawAuthority().indexOf('@') + 1)
        + (url.getRawPath() == null ? "" : url.getRawPath()));
  }

  private static String readSecret(String where, String what, String file) {
    try {
      return Files.readString(Path.of(file), StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      throw new ConfigException(where + ": cannot read " + what + ", " + file + ": " + e.getMessage());
    }
  }
}
