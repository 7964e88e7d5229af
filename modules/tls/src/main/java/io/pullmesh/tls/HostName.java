package io.pullmesh.tls;

import java.net.IDN;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A host a leaf certificate is minted for, normalized: a DNS name in lower case without a trailing dot (IDNs
 * converted to their ASCII form; a leading {@code *.} wildcard label allowed), or an IP address literal (IPv6
 * with or without brackets) in its canonical text form with its bytes. Parsing never looks anything up.
 */
record HostName(String value, byte[] ipAddress) {
  private static final Pattern LABEL = Pattern.compile("[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?");
  private static final Pattern IPV4 = Pattern.compile("(0|[1-9][0-9]{0,2})(\\.(0|[1-9][0-9]{0,2})){3}");
  private static final Pattern IPV6_CHARS = Pattern.compile("[0-9a-fA-F:.]+");

  boolean isIp() {
    return ipAddress != null;
  }

  /** @throws IllegalArgumentException saying why {@code raw} is neither a host name nor an IP address */
  static HostName parse(String raw) {
    if (raw == null || raw.isBlank()) {
      throw new IllegalArgumentException("empty host name");
    }
    String s = raw.trim();
    if (s.startsWith("[") && s.endsWith("]")) {
      s = s.substring(1, s.length() - 1);
      if (!s.contains(":")) {
        throw new IllegalArgumentException("'" + raw + "' is bracketed but not an IPv6 address");
      }
    }
    if (s.contains(":")) {
      return ipv6(s, raw);
    }
    if (s.endsWith(".")) {
      s = s.substring(0, s.length() - 1);
    }
    if (IPV4.matcher(s).matches()) {
      byte[] b = new byte[4];
      String[] parts = s.split("\\.");
      for (int i = 0; i < 4; i++) {
        int v = Integer.parseInt(parts[i]);
        if (v > 255) {
          throw new IllegalArgumentException("'" + raw + "' is not a valid IPv4 address");
        }
        b[i] = (byte) v;
      }
      return new HostName(s, b);
    }
    try {
      s = IDN.toASCII(s, IDN.ALLOW_UNASSIGNED).toLowerCase(Locale.ROOT);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("'" + raw + "' is not a valid host name: " + e.getMessage(), e);
    }
    validateDnsName(s, raw);
    return new HostName(s, null);
  }

  private static void validateDnsName(String s, String raw) {
    if (s.length() > 253) {
      throw new IllegalArgumentException("host name '" + raw + "' is longer than 253 characters");
    }
    String[] labels = s.split("\\.", -1);
    for (int i = 0; i < labels.length; i++) {
      String label = labels[i];
      if (i == 0 && label.equals("*") && labels.length >= 3) {
        continue; // *.r2.cloudflarestorage.com: a wildcard for one leftmost label, not for a whole TLD
      }
      if (!LABEL.matcher(label).matches()) {
        throw new IllegalArgumentException("'" + raw + "' is not a valid host name (bad label '" + label + "')");
      }
    }
    if (labels[labels.length - 1].chars().allMatch(Character::isDigit)) {
      throw new IllegalArgumentException("'" + raw + "' is neither an IP address nor a host name");
    }
  }

  private static HostName ipv6(String s, String raw) {
    if (!IPV6_CHARS.matcher(s).matches()) {
      throw new IllegalArgumentException("'" + raw + "' is not a valid IPv6 address (zone ids are not allowed)");
    }
    try {
      // brackets make the JDK parse a literal and fail rather than ask DNS
      InetAddress a = InetAddress.getByName("[" + s + "]");
      return new HostName(a.getHostAddress(), a.getAddress());
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("'" + raw + "' is not a valid IPv6 address", e);
    }
  }
}
