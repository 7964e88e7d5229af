package io.pullmesh.proxy;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A list of host names as an operator writes it: exact names ({@code registry.ollama.ai}), one leading wildcard
 * label matching any number of labels in front of a suffix ({@code *.r2.cloudflarestorage.com} matches
 * {@code abc.r2.cloudflarestorage.com} and {@code a.b.r2.cloudflarestorage.com}, not the bare suffix), {@code *}
 * for every host, or {@code none} (or nothing) for no host. Names compare without case and without a trailing dot.
 */
record HostPatterns(List<String> exact, List<String> suffixes, boolean any) {
  private static final Pattern NAME = Pattern.compile("[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?|\\[?[0-9a-f:.]+\\]?");

  static final HostPatterns NONE = new HostPatterns(List.of(), List.of(), false);

  HostPatterns {
    exact = List.copyOf(exact);
    suffixes = List.copyOf(suffixes);
  }

  /**
   * @throws IllegalArgumentException naming the entry that is not a host name or {@code *.suffix}
   */
  static HostPatterns parse(String list) {
    if (list == null || list.isBlank() || list.strip().equalsIgnoreCase("none")) {
      return NONE;
    }
    List<String> exact = new ArrayList<>();
    List<String> suffixes = new ArrayList<>();
    boolean any = false;
    for (String raw : list.split(",")) {
      String p = normalize(raw);
      if (p.isEmpty()) {
        continue;
      }
      if (p.equals("*")) {
        any = true;
      } else if (p.startsWith("*.")) {
        String suffix = p.substring(2);
        if (!NAME.matcher(suffix).matches() || !suffix.contains(".")) {
          throw new IllegalArgumentException("'" + raw.strip() + "' is not *.<domain> with a domain of at least two labels");
        }
        suffixes.add("." + suffix);
      } else if (NAME.matcher(p).matches()) {
        exact.add(p.startsWith("[") ? p.substring(1, p.length() - 1) : p);
      } else {
        throw new IllegalArgumentException("'" + raw.strip() + "' is not a host name, *.<domain> or *");
      }
    }
    return new HostPatterns(exact, suffixes, any);
  }

  private static String normalize(String host) {
    String h = host.strip().toLowerCase(Locale.ROOT);
    while (h.endsWith(".")) {
      h = h.substring(0, h.length() - 1);
    }
    return h;
  }

  boolean matches(String host) {
    if (host == null || host.isBlank()) {
      return false;
    }
    if (any) {
      return true;
    }
    String h = normalize(host);
    if (h.startsWith("[") && h.endsWith("]")) {
      h = h.substring(1, h.length() - 1);
    }
    if (exact.contains(h)) {
      return true;
    }
    for (String s : suffixes) {
      if (h.length() > s.length() && h.endsWith(s)) {
        return true;
      }
    }
    return false;
  }

  boolean isEmpty() {
    return !any && exact.isEmpty() && suffixes.isEmpty();
  }

  /** The first exact name, for clients that send no SNI; null if there is none. */
  String firstExact() {
    return exact.isEmpty() ? null : exact.get(0);
  }

  @Override
  public String toString() {
    if (any) {
      return "*";
    }
    if (isEmpty()) {
      return "none";
    }
    List<String> all = new ArrayList<>(exact);
    for (String s : suffixes) {
      all.add("*" + s);
    }
    return String.join(",", all);
  }
}
