package io.pullmesh.proxy;

import io.pullmesh.core.Bytes;
import io.pullmesh.core.Digest;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One log line per pull: a client fetching a model's manifest and then its blobs. A pull starts when a client gets a
 * manifest (GET) and ends when that client has been sent every blob the manifest names ({@code result=complete}),
 * or after {@link #IDLE_MS} without progress ({@code result=incomplete}). The line says which model and client
 * address; {@code bytes}, the model's bytes delivered (each blob counted up to its size); {@code wire}, the body
 * bytes written, which is more when a client abandons a response (Ollama drops the body of the GET it resolves a
 * blob's URL with) or asks again, split into {@code cache} (committed blobs) and {@code inflight} (a download as
 * it arrived); how many blobs this pull started downloading from upstream; and how long it took:
 *
 * <pre>pull model=library/qwen2.5:7b client=10.0.0.7 result=complete bytes=4683087519 size=4683087519 wire=4720000000 cache=0 inflight=4720000000 started_upstream=4 blobs=4/4 duration_ms=61234 (4.4 GiB)</pre>
 *
 * Fields are {@code key=value}, values without spaces, so the line is easy to parse; the log record also carries
 * them as its parameter (a map, numbers as numbers), which {@code --log-format json} writes as JSON fields. It
 * carries no URL query, header or credential. Thread-safe; cheap enough for the event loop (a map lookup per
 * finished blob response).
 */
final class PullLog {
  static final long IDLE_MS = 60_000;
  private static final Logger LOG = Logger.getLogger("io.pullmesh.pulls");
  private static final int MAX_PULLS = 4096;

  private final Clock clock;
  /** Where the lines go; null for the log, each record with its fields. */
  private final Consumer<String> sink;
  private final Map<String, Pull> pulls = new LinkedHashMap<>();

  PullLog(Clock clock) {
    this(clock, null);
  }

  PullLog(Clock clock, Consumer<String> sink) {
    this.clock = clock;
    this.sink = sink;
  }

  private static final class Pull {
    final String model;
    final String client;
    final long started;
    long lastProgress;
    final Map<Digest, Long> sizes;
    final Map<Digest, Long> sent = new HashMap<>();
    long cacheBytes;
    long inflightBytes;
    int startedUpstream;

    Pull(String model, String client, Map<Digest, Long> sizes, long now) {
      this.model = model;
      this.client = client;
      this.sizes = sizes;
      this.started = now;
      this.lastProgress = now;
    }

    int blobsDone() {
      int n = 0;
      for (Map.Entry<Digest, Long> e : sizes.entrySet()) {
        if (sent.getOrDefault(e.getKey(), 0L) >= e.getValue()) {
          n++;
        }
      }
      return n;
    }
  }

  /** A client got the manifest of {@code model} naming these blobs (digest to size): a pull begins (or begins again). */
  synchronized void manifestServed(String client, String model, Map<Digest, Long> blobs) {
    if (blobs.isEmpty()) {
      return;
    }
    String key = key(client, model);
    Pull previous = pulls.remove(key);
    if (previous != null && previous.sent.values().stream().mapToLong(Long::longValue).sum() > 0) {
      finish(previous, "incomplete");
    }
    if (pulls.size() >= MAX_PULLS) {
      Iterator<Pull> it = pulls.values().iterator();
      finish(it.next(), "incomplete");
      it.remove();
    }
    pulls.put(key, new Pull(model, client, Map.copyOf(blobs), clock.millis()));
  }

  /** The key of {@code client}'s pull of {@code model} in {@link #pulls}. */
  private static String key(String client, String model) {
    return client + " " + model;
  }

  /**
   * A blob request of {@code client} started that blob's download from upstream. Counted when it starts, not when its
   * response ends: Ollama hangs up its URL-resolution GET after the headers, and that response can end after the pull's
   * other requests have sent every blob and the pull was logged (a cold pull logged {@code started_upstream=3} of 4).
   */
  synchronized void blobStarted(String client, Digest digest) {
    Pull p = find(client, digest);
    if (p != null) {
      p.startedUpstream++;
    }
  }

  /** The pull of {@code client} that {@code digest} belongs to, or null. */
  private Pull find(String client, Digest digest) {
    assert Thread.holdsLock(this);
    for (Pull candidate : pulls.values()) {
      if (candidate.client.equals(client) && candidate.sizes.containsKey(digest)) {
        return candidate;
      }
    }
    return null;
  }

  /**
   * A blob response to {@code client} ended having sent {@code bytes} of body.
   *
   * @param cache how it was answered: hit, inflight (joined a download) or miss (started one: counted by
   *     {@link #blobStarted})
   */
  synchronized void blobServed(String client, Digest digest, long bytes, String cache) {
    Pull p = find(client, digest);
    if (p == null || bytes <= 0) {
      return;
    }
    p.sent.merge(digest, bytes, Long::sum);
    if ("hit".equals(cache)) {
      p.cacheBytes += bytes;
    } else {
      p.inflightBytes += bytes;
    }
    p.lastProgress = clock.millis();
    if (p.blobsDone() == p.sizes.size()) {
      pulls.remove(key(p.client, p.model));
      finish(p, "complete");
    }
  }

  /** Ends pulls that made no progress for {@link #IDLE_MS}; call periodically. */
  synchronized void sweep() {
    long now = clock.millis();
    List<Pull> idle = new ArrayList<>();
    pulls.values().removeIf(p -> {
      if (now - p.lastProgress >= IDLE_MS) {
        idle.add(p);
        return true;
      }
      return false;
    });
    for (Pull p : idle) {
      if (p.cacheBytes + p.inflightBytes > 0) {
        finish(p, "incomplete");
      }
    }
  }

  synchronized int active() {
    return pulls.size();
  }

  private void finish(Pull p, String result) {
    long wire = p.cacheBytes + p.inflightBytes;
    long size = 0;
    long delivered = 0;
    for (Map.Entry<Digest, Long> e : p.sizes.entrySet()) {
      size += e.getValue();
      delivered += Math.min(e.getValue(), p.sent.getOrDefault(e.getKey(), 0L));
    }
    Map<String, Object> fields = new LinkedHashMap<>();
    fields.put("model", p.model);
    fields.put("client", p.client);
    fields.put("result", result);
    fields.put("bytes", delivered);
    fields.put("size", size);
    fields.put("wire", wire);
    fields.put("cache", p.cacheBytes);
    fields.put("inflight", p.inflightBytes);
    fields.put("started_upstream", p.startedUpstream);
    fields.put("blobs", p.blobsDone() + "/" + p.sizes.size());
    fields.put("duration_ms", p.lastProgress - p.started);
    StringBuilder line = new StringBuilder("pull");
    fields.forEach((k, v) -> line.append(' ').append(k).append('=').append(v));
    line.append(" (").append(Bytes.human(delivered)).append(')');
    if (sink != null) {
      sink.accept(line.toString());
    } else {
      LOG.log(Level.INFO, line.toString(), fields);
    }
  }
}
