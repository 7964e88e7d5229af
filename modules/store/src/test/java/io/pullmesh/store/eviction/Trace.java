package io.pullmesh.store.eviction;

import io.pullmesh.core.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An access trace: the pulls that reached the mirror, in time order. Read from the CSV format described in
 * docs/eviction.md and written by {@link TraceGenerator}:
 *
 * <pre>
 *   # comment lines start with '#'
 *   time_ms,client,model,blobs
 *   36512345,pc07,m12,m12/weights:4100000000 m12/config:512 m12/template:1380
 * </pre>
 *
 * One line per pull; {@code time_ms} counts from the start of the trace (the simulator adds an epoch);
 * {@code blobs} lists every blob the pull fetched as {@code name:size}, space-separated. A blob's digest is the
 * SHA-256 of its name, so the same name is the same blob everywhere in a trace.
 */
record Trace(String name, List<Pull> pulls) {
  /** One pull: a client fetching every blob of a model. */
  record Pull(long timeMillis, String client, String model, List<Blob> blobs) {
  }

  /** One blob of a pull. */
  record Blob(Digest digest, String name, long size) {
  }

  static final String HEADER = "time_ms,client,model,blobs";

  static Trace resource(String name) {
    String path = "/traces/" + name + ".csv";
    try (InputStream in = Trace.class.getResourceAsStream(path)) {
      if (in == null) {
        throw new IllegalStateException("no trace resource " + path);
      }
      return parse(name, new String(in.readAllBytes(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Trace parse(String name, String csv) {
    Map<String, Blob> blobs = new HashMap<>();
    List<Pull> pulls = new ArrayList<>();
    boolean header = false;
    long previous = Long.MIN_VALUE;
    int lineNo = 0;
    for (String line : csv.split("\n", -1)) {
      lineNo++;
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      if (!header) {
        if (!line.equals(HEADER)) {
          throw new IllegalArgumentException(name + ":" + lineNo + ": expected header " + HEADER);
        }
        header = true;
        continue;
      }
      String[] f = line.split(",", -1);
      if (f.length != 4) {
        throw new IllegalArgumentException(name + ":" + lineNo + ": expected 4 fields: " + line);
      }
      long t = Long.parseLong(f[0]);
      if (t < previous) {
        throw new IllegalArgumentException(name + ":" + lineNo + ": time goes backwards");
      }
      previous = t;
      List<Blob> pullBlobs = new ArrayList<>();
      for (String b : f[3].split(" ")) {
        int colon = b.lastIndexOf(':');
        String blobName = b.substring(0, colon);
        long size = Long.parseLong(b.substring(colon + 1));
        Blob blob = blobs.computeIfAbsent(blobName, n -> new Blob(digestOf(n), n, size));
        if (blob.size() != size) {
          throw new IllegalArgumentException(name + ":" + lineNo + ": " + blobName + " changed size");
        }
        pullBlobs.add(blob);
      }
      pulls.add(new Pull(t, f[1], f[2], List.copyOf(pullBlobs)));
    }
    return new Trace(name, List.copyOf(pulls));
  }

  /** Bytes of the distinct blobs requested at least {@code minRequests} times. */
  long distinctBytes(int minRequests) {
    Map<Blob, Integer> counts = new HashMap<>();
    for (Pull p : pulls) {
      for (Blob b : p.blobs()) {
        counts.merge(b, 1, Integer::sum);
      }
    }
    long total = 0;
    for (Map.Entry<Blob, Integer> e : counts.entrySet()) {
      if (e.getValue() >= minRequests) {
        total += e.getKey().size();
      }
    }
    return total;
  }

  /** Bytes requested by all pulls together. */
  long requestedBytes() {
    long total = 0;
    for (Pull p : pulls) {
      for (Blob b : p.blobs()) {
        total += b.size();
      }
    }
    return total;
  }

  static Digest digestOf(String blobName) {
    try {
      return Digest.ofBytes(MessageDigest.getInstance("SHA-256").digest(blobName.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
