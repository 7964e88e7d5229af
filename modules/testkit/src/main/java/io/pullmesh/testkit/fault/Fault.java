package io.pullmesh.testkit.fault;

import java.time.Duration;

/**
 * One way a blob response goes wrong. Each stands for a failure seen in the wild between Ollama and a CDN.
 * Body faults (drop, stall, corrupt, ignore range) do nothing to a HEAD response.
 */
public sealed interface Fault {

  /** Send the headers and {@code bytes} body bytes of this response, then close the TCP connection (a reset proxy). */
  record DropAfter(long bytes) implements Fault {
    public DropAfter {
      requireNonNegative(bytes, "bytes");
    }
  }

  /** Answer with this status, {@code Content-Length: 0} and no body (an overloaded edge: 500, 503, 429...). */
  record Status(int code) implements Fault {
    public Status {
      if (code < 100 || code > 599) {
        throw new IllegalArgumentException("status must be in [100, 599], got " + code);
      }
    }
  }

  /**
   * Send the headers and {@code bytes} body bytes, then nothing, keeping the connection open until the client
   * closes it or the server stops (a stuck edge: what Ollama's stall detector is for).
   */
  record StallAfter(long bytes) implements Fault {
    public StallAfter {
      requireNonNegative(bytes, "bytes");
    }
  }

  /** Flip every bit of the byte at {@code offset} in the blob whenever the response covers it (bit rot, a bad cache). */
  record Corrupt(long offset) implements Fault {
    public Corrupt {
      requireNonNegative(offset, "offset");
    }
  }

  /** Answer a ranged GET with 200 and the whole blob, as a naive cache does. */
  record IgnoreRange() implements Fault {}

  /** Wait this long before answering (a slow origin); the rest of the response is normal. */
  record Delay(long millis) implements Fault {
    public Delay {
      requireNonNegative(millis, "millis");
    }
  }

  static Fault dropAfter(long bytes) {
    return new DropAfter(bytes);
  }

  static Fault status(int code) {
    return new Status(code);
  }

  static Fault stallAfter(long bytes) {
    return new StallAfter(bytes);
  }

  static Fault corrupt(long offset) {
    return new Corrupt(offset);
  }

  static Fault ignoreRange() {
    return new IgnoreRange();
  }

  static Fault delay(Duration d) {
    return new Delay(d.toMillis());
  }

  private static void requireNonNegative(long v, String what) {
    if (v < 0) {
      throw new IllegalArgumentException(what + " must be >= 0, got " + v);
    }
  }
}
