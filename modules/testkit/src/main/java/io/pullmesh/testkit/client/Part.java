package io.pullmesh.testkit.client;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One part of a blob download: bytes {@code [offset, offset+size)}, of which {@code completed} are on disk.
 * Its state is saved as {@code <blob>-partial-<N>} JSON ({@code {"N":..,"Offset":..,"Size":..,"Completed":..}},
 * download.go's format) so a later pull resumes. {@code lastUpdated} drives stall detection: it is set on each
 * byte received and cleared when a stall is declared, and a part that never received a byte is never stalled
 * (as in Ollama).
 */
final class Part {
  final int n;
  final long offset;
  final long size;
  final AtomicLong completed;
  private long lastUpdated;
  private boolean updated;

  Part(int n, long offset, long size, long completed) {
    this.n = n;
    this.offset = offset;
    this.size = size;
    this.completed = new AtomicLong(completed);
  }

  long startsAt() {
    return offset + completed.get();
  }

  long stopsAt() {
    return offset + size;
  }

  boolean done() {
    return completed.get() >= size;
  }

  synchronized void touch(long nowNanos) {
    lastUpdated = nowNanos;
    updated = true;
  }

  /** True, once, when bytes were received before but none for longer than {@code timeoutNanos}. */
  synchronized boolean checkStalled(long nowNanos, long timeoutNanos) {
    if (updated && nowNanos - lastUpdated > timeoutNanos) {
      updated = false;
      return true;
    }
    return false;
  }

  static Path stateFile(Path blobPath, int n) {
    return blobPath.resolveSibling(blobPath.getFileName() + "-partial-" + n);
  }

  void save(Path blobPath) throws IOException {
    String json = "{\"N\":" + n + ",\"Offset\":" + offset + ",\"Size\":" + size + ",\"Completed\":" + completed.get()
        + "}\n";
    Files.writeString(stateFile(blobPath, n), json, StandardCharsets.UTF_8);
  }

  static Part load(Path stateFile) throws IOException {
    try {
      JsonObject j = new JsonObject(Files.readString(stateFile, StandardCharsets.UTF_8));
      return new Part(j.getInteger("N"), j.getLong("Offset"), j.getLong("Size"), j.getLong("Completed"));
    } catch (RuntimeException e) {
      throw new IOException("bad part state file " + stateFile + ": " + e.getMessage(), e);
    }
  }
}
