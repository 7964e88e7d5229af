package io.pullmesh.testkit.registry;

import io.pullmesh.core.Digest;
import java.util.ArrayDeque;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Counters of the fake registry, CDN and hub, for assertions: blob body bytes written to sockets, requests by kind,
 * open and peak CDN connections, and a bounded log of recent requests. Thread-safe; {@link #reset()} zeroes
 * everything but the open-connection count.
 *
 * <p>Body bytes are counted as each chunk is handed to the socket and taken back if that write fails, so the
 * count never lags what a client has already received, and settles on exactly the bytes written. A request's
 * counters and log entry are updated before its response headers leave the server.
 */
public final class TrafficStats {
  /** Which server sent a body. */
  public enum Origin {
    REGISTRY,
    CDN,
    /** The hub of the Hugging Face or ModelScope flavour (ModelScope's hub serves blobs itself). */
    HUB
  }

  private final int logCapacity;
  private final Map<Origin, AtomicLong> totalBytes = new EnumMap<>(Origin.class);
  private final Map<Origin, Map<Digest, AtomicLong>> bytesByDigest = new EnumMap<>(Origin.class);
  private final AtomicLongArray requests = new AtomicLongArray(RequestKind.values().length);
  private final AtomicInteger openCdnConnections = new AtomicInteger();
  private final AtomicInteger peakCdnConnections = new AtomicInteger();
  private final ArrayDeque<RequestRecord> log = new ArrayDeque<>();

  TrafficStats(int logCapacity) {
    this.logCapacity = logCapacity;
    for (Origin o : Origin.values()) {
      totalBytes.put(o, new AtomicLong());
      bytesByDigest.put(o, new ConcurrentHashMap<>());
    }
  }

  /** Blob body bytes the CDN wrote to sockets, all blobs. */
  public long cdnBlobBytes() {
    return totalBytes.get(Origin.CDN).get();
  }

  /** Blob body bytes the CDN wrote to sockets for one blob. */
  public long cdnBlobBytes(Digest digest) {
    return bytes(Origin.CDN, digest);
  }

  /** Blob body bytes the registry itself wrote (direct mode only), all blobs. */
  public long registryBlobBytes() {
    return totalBytes.get(Origin.REGISTRY).get();
  }

  public long registryBlobBytes(Digest digest) {
    return bytes(Origin.REGISTRY, digest);
  }

  /** Blob body bytes the hub wrote (ModelScope flavour: {@code /blobs/download/}), all blobs. */
  public long hubBlobBytes() {
    return totalBytes.get(Origin.HUB).get();
  }

  public long hubBlobBytes(Digest digest) {
    return bytes(Origin.HUB, digest);
  }

  /** Blob body bytes from every server (registry, CDN and hub): all the bytes a client took from upstream. */
  public long blobBytes() {
    return cdnBlobBytes() + registryBlobBytes() + hubBlobBytes();
  }

  /** Blob body bytes of one blob from every server. */
  public long blobBytes(Digest digest) {
    return cdnBlobBytes(digest) + registryBlobBytes(digest) + hubBlobBytes(digest);
  }

  public long requests(RequestKind kind) {
    return requests.get(kind.ordinal());
  }

  /** CDN GETs, ranged or not. */
  public long cdnGets() {
    return requests(RequestKind.CDN_GET_RANGED) + requests(RequestKind.CDN_GET_UNRANGED);
  }

  /** TCP connections to the CDN open right now (idle keep-alive ones included). */
  public int openCdnConnections() {
    return openCdnConnections.get();
  }

  /** The most TCP connections the CDN had open at once since the last reset. */
  public int peakCdnConnections() {
    return peakCdnConnections.get();
  }

  /** The most recent requests, oldest first (at most the configured capacity). */
  public synchronized List<RequestRecord> recentRequests() {
    return List.copyOf(log);
  }

  /** Zeroes counters and the log. Open connections stay counted; the peak restarts from them. */
  public synchronized void reset() {
    for (Origin o : Origin.values()) {
      totalBytes.get(o).set(0);
      bytesByDigest.get(o).clear();
    }
    for (int i = 0; i < requests.length(); i++) {
      requests.set(i, 0);
    }
    peakCdnConnections.set(openCdnConnections.get());
    log.clear();
  }

  void addBlobBytes(Origin origin, Digest digest, long n) {
    totalBytes.get(origin).addAndGet(n);
    bytesByDigest.get(origin).computeIfAbsent(digest, d -> new AtomicLong()).addAndGet(n);
  }

  void count(RequestKind kind) {
    requests.incrementAndGet(kind.ordinal());
  }

  void cdnConnectionOpened() {
    int now = openCdnConnections.incrementAndGet();
    peakCdnConnections.accumulateAndGet(now, Math::max);
  }

  void cdnConnectionClosed() {
    openCdnConnections.decrementAndGet();
  }

  synchronized void log(RequestRecord r) {
    if (log.size() == logCapacity) {
      log.removeFirst();
    }
    log.addLast(r);
  }

  private long bytes(Origin origin, Digest digest) {
    AtomicLong n = bytesByDigest.get(origin).get(digest);
    return n == null ? 0 : n.get();
  }
}
