package io.pullmesh.core;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * Evaluates a {@code Range} request header against a resource size (RFC 9110 section 14).
 *
 * <p>pullmesh is stricter than the RFC in one place, on purpose: a {@code bytes=} header that does not
 * parse is answered 416, never with the whole body. Ollama's downloader never checks for 206, so a 200 with
 * the whole body to a client that believes it asked for a range would silently corrupt its file. A header
 * in another unit ({@code items=...}) is ignored as the RFC says, and gets the whole body.
 */
public final class RangeHeader {
  /** More ranges than this in one header is refused: a client has no reason to ask for them. */
  public static final int MAX_RANGES = 64;

  private RangeHeader() {}

  /** What to send for one request. */
  public sealed interface Result permits Whole, Partial, Unsatisfiable, Invalid {}

  /** No {@code Range} header, or one in a unit other than bytes: send 200 with the whole body. */
  public record Whole() implements Result {}

  /**
   * Send 206. One range: a plain partial response with {@code Content-Range}. Several (never overlapping or
   * adjacent: those are coalesced): {@code multipart/byteranges}, in the order the client asked.
   */
  public record Partial(List<ByteRange> ranges) implements Result {
    public Partial {
      ranges = List.copyOf(ranges);
      if (ranges.isEmpty()) {
        throw new IllegalArgumentException("a partial response needs at least one range");
      }
    }

    public boolean isSingle() {
      return ranges.size() == 1;
    }
  }

  /** Well-formed but no range overlaps the resource: send 416 with {@code Content-Range: bytes *\/size}. */
  public record Unsatisfiable() implements Result {}

  /** A {@code bytes=} header that does not parse: send 416 and say why. */
  public record Invalid(String reason) implements Result {}

  private static final Whole WHOLE = new Whole();
  private static final Unsatisfiable UNSATISFIABLE = new Unsatisfiable();

  /**
   * @param header the raw {@code Range} header, or null when absent
   * @param size the resource size in bytes
   */
  public static Result evaluate(String header, long size) {
    if (size < 0) {
      throw new IllegalArgumentException("size must be >= 0, got " + size);
    }
    if (header == null || header.isBlank()) {
      return WHOLE;
    }
    String h = header.strip();
    int eq = h.indexOf('=');
    if (eq < 0) {
      return new Invalid("expected: bytes=<first>-<last>, got " + Digest.quote(header));
    }
    String unit = h.substring(0, eq).strip().toLowerCase(Locale.ROOT);
    if (!unit.equals("bytes")) {
      return WHOLE;
    }
    String[] specs = h.substring(eq + 1).split(",", -1);
    if (specs.length > MAX_RANGES) {
      return new Invalid("more than " + MAX_RANGES + " ranges");
    }
    List<ByteRange> satisfiable = new ArrayList<>(specs.length);
    for (String raw : specs) {
      String spec = raw.strip();
      int dash = spec.indexOf('-');
      if (spec.isEmpty() || dash < 0 || spec.indexOf('-', dash + 1) >= 0) {
        return new Invalid("bad range " + Digest.quote(spec) + " (expected: first-last, first- or -suffix)");
      }
      String a = spec.substring(0, dash).strip();
      String b = spec.substring(dash + 1).strip();
      long first;
      long last;
      if (a.isEmpty()) {
        long suffix = parseNumber(b);
        if (suffix < 0) {
          return new Invalid("bad suffix length in " + Digest.quote(spec));
        }
        if (suffix == 0 || size == 0) {
          continue;
        }
        first = Math.max(0, size - suffix);
        last = size - 1;
      } else {
        first = parseNumber(a);
        long end = b.isEmpty() ? Long.MAX_VALUE : parseNumber(b);
        if (first < 0 || end < 0) {
          return new Invalid("bad number in " + Digest.quote(spec));
        }
        if (end < first) {
          return new Invalid("last byte before first in " + Digest.quote(spec));
        }
        if (first >= size) {
          continue;
        }
        last = Math.min(end, size - 1);
      }
      satisfiable.add(new ByteRange(first, last));
    }
    if (satisfiable.isEmpty()) {
      return UNSATISFIABLE;
    }
    return new Partial(coalesce(satisfiable));
  }

  /** Digits only, no sign, no overflow; -1 when not a number. */
  private static long parseNumber(String s) {
    if (s.isEmpty() || s.length() > 18) {
      return -1;
    }
    long v = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      v = v * 10 + (c - '0');
    }
    return v;
  }

  /**
   * Keeps the client's order unless two ranges overlap or touch; then all are sorted and merged (RFC 9110
   * allows coalescing, and it keeps a multipart body from repeating bytes).
   */
  static List<ByteRange> coalesce(List<ByteRange> ranges) {
    if (ranges.size() < 2) {
      return ranges;
    }
    List<ByteRange> sorted = new ArrayList<>(ranges);
    sorted.sort(Comparator.comparingLong(ByteRange::first));
    boolean touching = false;
    for (int i = 1; i < sorted.size() && !touching; i++) {
      touching = sorted.get(i).first() <= sorted.get(i - 1).last() + 1;
    }
    if (!touching) {
      return ranges;
    }
    List<ByteRange> merged = new ArrayList<>();
    ByteRange cur = sorted.get(0);
    for (int i = 1; i < sorted.size(); i++) {
      ByteRange next = sorted.get(i);
      if (next.first() <= cur.last() + 1) {
        cur = new ByteRange(cur.first(), Math.max(cur.last(), next.last()));
      } else {
        merged.add(cur);
        cur = next;
      }
    }
    merged.add(cur);
    return merged;
  }
}
