package io.pullmesh.core;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Ollama version a client reports in its User-Agent, as registry.ollama.ai reads it to decide whether the client
 * may pull a model (it answers 412 to a client older than the model needs: ollama #11457, #11675, #14431).
 *
 * <p>Ollama's User-Agent is {@code ollama/<version> (<GOARCH> <GOOS>) Go/<go version>} (server/images.go
 * {@code userAgent()}; the version comes from version/version.go, {@code 0.0.0} in a build without one). A version is
 * {@code major.minor.patch} with an optional pre-release suffix ({@code 0.12.0-rc1}), which sorts before the release, as
 * in semver. Not for anything but that comparison: no build metadata, no ranges.
 */
public record OllamaVersion(int major, int minor, int patch, String preRelease) implements Comparable<OllamaVersion> {
  private static final Pattern VERSION = Pattern.compile("v?(\\d{1,6})\\.(\\d{1,6})\\.(\\d{1,6})(?:-([0-9A-Za-z.-]{1,40}))?(?:\\+[0-9A-Za-z.-]*)?");
  private static final Pattern USER_AGENT = Pattern.compile("(?i)^\\s*ollama/(\\S+)");

  public OllamaVersion {
    if (major < 0 || minor < 0 || patch < 0) {
      throw new IllegalArgumentException("version numbers are never negative");
    }
    preRelease = preRelease == null || preRelease.isEmpty() ? null : preRelease;
  }

  /** @throws IllegalArgumentException for anything but {@code [v]major.minor.patch[-pre][+build]} */
  public static OllamaVersion parse(String text) {
    Matcher m = text == null ? null : VERSION.matcher(text.strip());
    if (m == null || !m.matches()) {
      throw new IllegalArgumentException("Ollama version: " + Digest.quote(text) + " (expected: major.minor.patch, e.g. 0.13.5)");
    }
    return new OllamaVersion(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)), m.group(4));
  }

  /** The version of an Ollama User-Agent ({@code ollama/0.13.5 (amd64 linux) Go/go1.24.1}); empty for any other client. */
  public static Optional<OllamaVersion> fromUserAgent(String userAgent) {
    Matcher m = userAgent == null ? null : USER_AGENT.matcher(userAgent);
    if (m == null || !m.find()) {
      return Optional.empty();
    }
    try {
      return Optional.of(parse(m.group(1)));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  @Override
  public int compareTo(OllamaVersion o) {
    int c = Integer.compare(major, o.major);
    if (c == 0) {
      c = Integer.compare(minor, o.minor);
    }
    if (c == 0) {
      c = Integer.compare(patch, o.patch);
    }
    if (c != 0) {
      return c;
    }
    if (preRelease == null || o.preRelease == null) {
      return preRelease == null ? (o.preRelease == null ? 0 : 1) : -1;
    }
    return comparePreRelease(preRelease, o.preRelease);
  }

  /** semver 11.4: dot-separated identifiers, numeric ones numerically and below alphanumeric ones. */
  private static int comparePreRelease(String a, String b) {
    String[] x = a.split("\\.");
    String[] y = b.split("\\.");
    for (int i = 0; i < Math.min(x.length, y.length); i++) {
      boolean nx = x[i].chars().allMatch(Character::isDigit);
      boolean ny = y[i].chars().allMatch(Character::isDigit);
      int c;
      if (nx && ny) {
        c = compareDigits(x[i], y[i]);
      } else if (nx != ny) {
        c = nx ? -1 : 1;
      } else {
        c = x[i].compareTo(y[i]);
      }
      if (c != 0) {
        return c;
      }
    }
    return Integer.compare(x.length, y.length);
  }

  /** Two runs of digits compared as numbers of any length (a pre-release identifier may be 40 digits long). */
  private static int compareDigits(String a, String b) {
    String x = a.replaceFirst("^0+(?=.)", "");
    String y = b.replaceFirst("^0+(?=.)", "");
    return x.length() != y.length() ? Integer.compare(x.length(), y.length()) : x.compareTo(y);
  }

  public boolean isOlderThan(OllamaVersion o) {
    return compareTo(o) < 0;
  }

  @Override
  public String toString() {
    return major + "." + minor + "." + patch + (preRelease == null ? "" : "-" + preRelease);
  }
}
