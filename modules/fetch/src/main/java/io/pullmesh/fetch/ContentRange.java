package io.pullmesh.fetch;

import java.util.Optional;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@code Content-Range} header of an upstream's (or a peer's) answer, read: {@code bytes FIRST-LAST/TOTAL} of a 206 (TOTAL may be
 * {@code *}), or {@code bytes &#42;/TOTAL} of a 416. Pure. Not for the Range header of a request (core's
 * {@code RangeHeader}), nor for writing one ({@code ByteRange.contentRange}).
 *
 * @param total the blob's size, or -1 when the upstream wrote {@code *}
 */
public record ContentRange(long first, long last, long total) {
  private static final Pattern SATISFIED = Pattern.compile("bytes\\s+(\\d+)-(\\d+)/(\\d+|\\*)");
  private static final Pattern UNSATISFIED = Pattern.compile("bytes\\s+\\*/(\\d+)");

  /** The range a 206 says it carries; empty when the header is missing or not of that form. */
  public static Optional<ContentRange> of(String header) {
    Matcher m = SATISFIED.matcher(String.valueOf(header));
    if (!m.matches()) {
      return Optional.empty();
    }
    return Optional.of(new ContentRange(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)),
        m.group(3).equals("*") ? -1 : Long.parseLong(m.group(3))));
  }

  /** The size a 416 gives ({@code bytes &#42;/TOTAL}); empty when the header is missing or not of that form. */
  static OptionalLong unsatisfiedSize(String header) {
    Matcher m = UNSATISFIED.matcher(String.valueOf(header));
    return m.matches() ? OptionalLong.of(Long.parseLong(m.group(1))) : OptionalLong.empty();
  }

  /** Whether this is exactly bytes {@code first..last} of a blob of {@code size} bytes (or of unknown total). */
  boolean is(long first, long last, long size) {
    return this.first == first && this.last == last && (total == -1 || total == size);
  }
}
