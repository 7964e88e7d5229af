package io.pullmesh.core;

/**
 * An inclusive byte range {@code [first, last]} of a resource, as in {@code Content-Range: bytes first-last/size}.
 * Always non-empty: {@code first <= last}.
 */
public record ByteRange(long first, long last) {
  public ByteRange {
    if (first < 0 || last < first) {
      throw new IllegalArgumentException("byte range: " + first + "-" + last + " (expected: 0 <= first <= last)");
    }
  }

  /** The range starting at {@code offset} of {@code length} bytes ({@code length >= 1}). */
  public static ByteRange ofLength(long offset, long length) {
    return new ByteRange(offset, offset + length - 1);
  }

  public long length() {
    return last - first + 1;
  }

  /** The value of a {@code Content-Range} header for this range of a resource of {@code size} bytes. */
  public String contentRange(long size) {
    return "bytes " + first + "-" + last + "/" + size;
  }

  /** The value of a {@code Range} request header asking for exactly this range. */
  public String rangeHeader() {
    return "bytes=" + first + "-" + last;
  }

  @Override
  public String toString() {
    return first + "-" + last;
  }
}
