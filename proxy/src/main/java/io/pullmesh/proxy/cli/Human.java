package io.pullmesh.proxy.cli;

import io.pullmesh.core.Bytes;

/** Sizes, rates, durations and times the way people read them. */
public final class Human {
  private Human() {}

  public static String size(long bytes) {
    return Bytes.human(bytes);
  }

  public static String rate(long bytesPerSecond) {
    return Bytes.human(bytesPerSecond) + "/s";
  }

  /** {@code 42s}, {@code 3m05s}, {@code 2h07m}. */
  public static String duration(long seconds) {
    long s = Math.max(0, seconds);
    if (s < 60) {
      return s + "s";
    }
    if (s < 3600) {
      return String.format("%dm%02ds", s / 60, s % 60);
    }
    return String.format("%dh%02dm", s / 3600, (s % 3600) / 60);
  }

  /** How long before {@code now} the epoch millisecond {@code at} was: {@code 3 min ago}; {@code never} for 0. */
  public static String ago(long at, long now) {
    if (at <= 0) {
      return "never";
    }
    long s = Math.max(0, (now - at) / 1000);
    if (s < 2) {
      return "just now";
    }
    if (s < 60) {
      return s + " s ago";
    }
    if (s < 3600) {
      return s / 60 + " min ago";
    }
    if (s < 48 * 3600) {
      return s / 3600 + " h ago";
    }
    return s / 86400 + " days ago";
  }

  /** {@code sha256:0123456789ab}: enough of a digest to tell blobs apart in a table. */
  public static String shortDigest(String digest) {
    if (digest == null) {
      return "-";
    }
    int colon = digest.indexOf(':');
    return digest.length() > colon + 13 ? digest.substring(0, colon + 13) : digest;
  }

  /** {@code 1 blob}, {@code 3 blobs}. */
  public static String count(long n, String singular) {
    return count(n, singular, singular + "s");
  }

  public static String count(long n, String singular, String plural) {
    return n + " " + (n == 1 ? singular : plural);
  }
}
