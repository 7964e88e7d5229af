package io.pullmesh.proxy;

import java.util.Locale;

/**
 * How the node's sockets are driven ({@code --net-transport}): Netty's epoll transport, whose native library the jar
 * carries for Linux x86-64 and aarch64, or the JDK's NIO. {@code auto} takes epoll where it loads and NIO everywhere
 * else (macOS, Windows, musl), saying so once at start. Measured on the pull benchmark: the event loops' CPU in a cold
 * 256 MiB pull was about 15% lower with epoll in one side-by-side pair; TLS serving through interception was within
 * run-to-run noise (docs/operations.md, "Sockets"). Not for TLS ({@link TlsEngine}) nor for what the sockets carry.
 */
public enum NetTransport {
  AUTO, EPOLL, NIO;

  /** {@code auto}, {@code epoll} or {@code nio}, any case. */
  public static NetTransport parse(String value) {
    try {
      return valueOf(value.strip().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("not a network transport: '" + value + "' (auto, epoll or nio)", e);
    }
  }

  /** Whether Vert.x is asked to prefer its native transport. */
  boolean preferNative() {
    return this != NIO;
  }

  /**
   * What Vert.x gave for this setting, as a line for the log.
   *
   * @param nativeEnabled whether Vert.x runs on its native transport
   * @param cause why the native transport is unavailable, when it is (null otherwise)
   * @throws IllegalStateException for {@code epoll} where it could not be loaded (the message says why)
   */
  String resolved(boolean nativeEnabled, Throwable cause) {
    if (nativeEnabled) {
      return "sockets: Netty's epoll transport";
    }
    String why = cause == null ? "not asked for" : String.valueOf(cause.getMessage() == null ? cause : cause.getMessage());
    switch (this) {
      case EPOLL:
        throw new IllegalStateException("--net-transport epoll: Netty's epoll transport cannot be loaded on this machine: " + why
            + " (use --net-transport auto or nio)");
      case NIO:
        return "sockets: the JDK's NIO (--net-transport nio)";
      default:
        return "sockets: the JDK's NIO; Netty's epoll transport cannot be loaded on this machine (" + why + ")";
    }
  }
}
