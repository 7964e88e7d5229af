package io.pullmesh.proxy;

import java.net.URI;
import java.util.regex.Pattern;

/**
 * Credentials out of what is shown or logged: the password of a URL's {@code user:password@} becomes {@code ***}
 * (issue 18: {@code --upstream http://user:SECRET@host} was printed by the startup line, {@code GET /}, the admin stats
 * and the status page). Not for anything sent on the wire.
 */
final class Redaction {
  private static final Pattern USERINFO = Pattern.compile("(?i)(\\b[a-z][a-z0-9+.-]*://[^/@:\\s]*):[^/@\\s]*@");

  private Redaction() {}

  /** The URL with its password, if any, replaced by {@code ***}. */
  static String url(URI url) {
    return url == null ? "null" : text(url.toString());
  }

  /** Any text with the password of every {@code scheme://user:password@} in it replaced by {@code ***}. */
  static String text(String s) {
    return s == null ? null : USERINFO.matcher(s).replaceAll("$1:***@");
  }
}
