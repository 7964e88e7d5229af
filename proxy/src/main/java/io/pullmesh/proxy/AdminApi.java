package io.pullmesh.proxy;

import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.pullmesh.fetch.BlobDownload;
import io.pullmesh.fetch.DownloadManager;
import io.pullmesh.store.Alias;
import io.pullmesh.store.BlobRecord;
import io.pullmesh.store.BlobStore;
import io.pullmesh.store.BlobVerifier;
import io.pullmesh.store.Catalog;
import io.pullmesh.store.ManifestRecord;
import io.pullmesh.store.Pin;
import io.pullmesh.store.SpaceManager;
import io.pullmesh.store.TagEvent;
import io.pullmesh.store.TagRecord;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.time.Clock;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.logging.Logger;

/**
 * The admin API, JSON under {@code /admin/v1/}. Reads are open; changes ({@code POST}) need
 * {@code Authorization: Bearer <--admin-token>}, or, when no token is configured, a client on loopback, and in either
 * case a request no web page can forge ({@link AdminGuard}). A change's body is read up to 64 KiB and no further. Every
 * change is validated completely before anything is applied.
 *
 * <pre>
 *   GET  stats | models | blobs | downloads | pins | aliases | prefetch[/ID] | verify
 *   POST pin {name} | unpin {name} | evict {name}|{digest} | refresh {name} | prefetch {name}
 *        alias {name, target} | unalias {name} | verify
 * </pre>
 */
final class AdminApi {
  private static final Logger LOG = Logger.getLogger(AdminApi.class.getName());
  static final String PREFIX = "/admin/v1/";
  private static final int MAX_BODY = 64 << 10;
  /** Bytes of a refused body read and thrown away before the connection is closed on the client. */
  private static final long DRAIN_LIMIT = 4L << 20;

  private final Vertx vertx;
  private final BlobStore store;
  private final Catalog catalog;
  private final SpaceManager space;
  private final DownloadManager downloads;
  private final ManifestService manifests;
  private final Aliases aliases;
  private final Prefetcher prefetcher;
  private final AdminGuard guard;
  private final Clock clock;
  private final Traffic traffic;
  /** The default upstream's URL, for stats. */
  private final String upstream;
  private volatile JsonObject verification = new JsonObject().put("state", "never run");

  /** Byte counters the stats report (read from the metrics recorder). */
  interface Traffic {
    long servedBytes();

    long upstreamBytes();

    /** Blob GETs answered so far with this cache result: hit, inflight (joined a download), miss (started one). */
    default long blobRequests(String result) {
      return 0;
    }

    /** The mesh as this node sees it (count of other nodes, mesh name, bytes to and from peers), or null when alone. */
    default JsonObject peers() {
      return null;
    }
  }

  AdminApi(Vertx vertx, BlobStore store, SpaceManager space, DownloadManager downloads, ManifestService manifests,
      Aliases aliases, Prefetcher prefetcher, AdminGuard guard, Clock clock, String upstream, Traffic traffic) {
    this.upstream = upstream;
    this.vertx = vertx;
    this.store = store;
    this.catalog = store.catalog();
    this.space = space;
    this.downloads = downloads;
    this.manifests = manifests;
    this.aliases = aliases;
    this.prefetcher = prefetcher;
    this.guard = guard;
    this.clock = clock;
    this.traffic = traffic;
  }

  /** What {@code GET} reads and {@code POST} changes; a known path asked with another method gets 405. */
  private static final Set<String> READS = Set.of("stats", "models", "blobs", "downloads", "pins", "aliases", "prefetch", "verify");
  private static final Set<String> CHANGES = Set.of("pin", "unpin", "evict", "refresh", "prefetch", "alias", "unalias", "verify");

  void handle(HttpServerRequest req) {
    String path = req.path().substring(PREFIX.length());
    HttpMethod m = req.method();
    try {
      checkMethod(req, path, m);
      if (m == HttpMethod.GET) {
        get(req, path);
      } else if (m == HttpMethod.POST) {
        authorize(req);
        body(req).onComplete(ar -> {
          try {
            if (ar.failed()) {
              throw ar.cause() instanceof RegistryException r ? r : bad("could not read the request body: " + ar.cause().getMessage());
            }
            post(req, path, parse(ar.result()));
          } catch (RuntimeException e) {
            error(req, e);
          }
        });
      } else {
        throw new RegistryException(ErrorCode.UNSUPPORTED, m + " is not supported on the admin API (GET to read, POST to change)");
      }
    } catch (RuntimeException e) {
      error(req, e);
    }
  }

  // ------------------------------------------------------------------ auth and plumbing

  /** 405 with the methods the path does take, for a known path asked with a method it does not take. */
  private static void checkMethod(HttpServerRequest req, String path, HttpMethod m) {
    boolean reads = READS.contains(path) || path.startsWith("prefetch/");
    boolean changes = CHANGES.contains(path);
    if ((m == HttpMethod.GET && reads) || (m == HttpMethod.POST && changes)) {
      return;
    }
    if (!reads && !changes) {
      if (m == HttpMethod.GET || m == HttpMethod.POST) {
        return; // unknown path: 404 below
      }
      throw new RegistryException(ErrorCode.UNSUPPORTED, m + " is not supported on the admin API (GET to read, POST to change)");
    }
    String allow = reads && changes ? "GET, POST" : reads ? "GET" : "POST";
    req.response().putHeader("Allow", allow);
    throw new RegistryException(ErrorCode.UNSUPPORTED, m + " " + PREFIX + path + " is not supported (use " + allow + ")");
  }

  private void authorize(HttpServerRequest req) {
    String remote = req.remoteAddress() == null ? null : req.remoteAddress().hostAddress();
    var refusal = guard.refusal(new AdminGuard.Request(remote, req.getHeader("Host"), req.getHeader("Authorization"),
        req.getHeader("Content-Type"), req.getHeader("Origin"), req.getHeader("Sec-Fetch-Site")));
    if (refusal.isPresent()) {
      LOG.warning(() -> "admin API: refused POST " + req.path() + " from " + remote + ": " + refusal.get().getMessage());
      throw refusal.get();
    }
  }

  /**
   * A change's body, refused as soon as it is known to exceed {@link #MAX_BODY}: by its Content-Length before a byte is
   * read, or while it arrives. Never buffers more than that: the refusal is answered at once, and the rest is thrown
   * away as it comes, up to {@link #DRAIN_LIMIT}, past which the connection is closed.
   */
  private static Future<Buffer> body(HttpServerRequest req) {
    String length = req.getHeader("Content-Length");
    try {
      if (length != null && Long.parseLong(length.strip()) > MAX_BODY) {
        return refuseTooLarge(req);
      }
    } catch (NumberFormatException e) {
      return Future.failedFuture(bad("Content-Length is not a number: " + length));
    }
    io.vertx.core.Promise<Buffer> p = io.vertx.core.Promise.promise();
    Buffer acc = Buffer.buffer();
    req.handler(b -> {
      if (p.future().isComplete()) {
        return;
      }
      if (acc.length() + b.length() > MAX_BODY) {
        refuseTooLarge(req).onFailure(p::tryFail);
        return;
      }
      acc.appendBuffer(b);
    });
    req.exceptionHandler(p::tryFail);
    req.endHandler(v -> p.tryComplete(acc));
    return p.future();
  }

  private static Future<Buffer> refuseTooLarge(HttpServerRequest req) {
    // the refusal is answered at once; what the client still sends is read and thrown away (never kept), so that it
    // reads the answer instead of a reset (a close while it still sent made the JDK's client fail with "header parser
    // received no bytes"); one that goes on past DRAIN_LIMIT is cut off
    long[] drained = {0};
    req.handler(b -> {
      drained[0] += b.length();
      if (drained[0] > DRAIN_LIMIT) {
        req.connection().close();
      }
    });
    return Future.failedFuture(bad("request body larger than " + MAX_BODY + " bytes"));
  }

  private static JsonObject parse(Buffer body) {
    if (body.length() == 0) {
      return new JsonObject();
    }
    try {
      return body.toJsonObject();
    } catch (RuntimeException e) {
      throw bad("request body is not a JSON object: " + e.getMessage());
    }
  }

  private static RegistryException bad(String message) {
    return new RegistryException(ErrorCode.NAME_INVALID, 400, message, null);
  }

  private static String field(JsonObject body, String name) {
    Object v = body.getValue(name);
    if (!(v instanceof String s) || s.isBlank()) {
      throw bad("expected a JSON body with a string field \"" + name + "\"");
    }
    return s.strip();
  }

  private static Aliases.NameTag nameOf(JsonObject body) {
    String name = field(body, "name");
    try {
      return Aliases.NameTag.parse(name);
    } catch (IllegalArgumentException e) {
      throw bad("name " + RegistryException.jsonString(name) + ": " + e.getMessage() + " (expected e.g. library/qwen2.5:7b)");
    }
  }

  private <T> Future<T> blocking(Callable<T> work) {
    return vertx.executeBlocking(work, false);
  }

  private static void json(HttpServerRequest req, int status, Object body) {
    String text = body instanceof JsonObject o ? o.encodePrettily() : ((JsonArray) body).encodePrettily();
    req.response().setStatusCode(status).putHeader("Content-Type", "application/json; charset=utf-8").end(text + "\n");
  }

  private static void error(HttpServerRequest req, Throwable t) {
    RegistryException e = RegistryException.of(t);
    if (e.code() == ErrorCode.INTERNAL_ERROR) {
      LOG.warning(() -> "admin API: " + e.getMessage());
    }
    Responses.error(req.response(), e, req.method() == HttpMethod.HEAD);
  }

  private <T> void reply(HttpServerRequest req, int status, Future<T> f) {
    f.onComplete(ar -> {
      if (ar.failed()) {
        error(req, ar.cause());
      } else {
        json(req, status, ar.result());
      }
    });
  }

  // ------------------------------------------------------------------ reads

  private void get(HttpServerRequest req, String path) {
    switch (path) {
      case "stats" -> reply(req, 200, blocking(this::stats));
      case "models" -> reply(req, 200, blocking(this::models));
      case "blobs" -> reply(req, 200, blocking(this::blobs));
      case "downloads" -> json(req, 200, downloadsJson());
      case "pins" -> reply(req, 200, blocking(() -> {
        JsonArray a = new JsonArray();
        for (Pin p : catalog.pins()) {
          a.add(new JsonObject().put("name", p.name()).put("pinnedAt", p.pinnedAt()));
        }
        return a;
      }));
      case "aliases" -> json(req, 200, aliasesJson());
      case "prefetch" -> {
        JsonArray a = new JsonArray();
        prefetcher.jobs().forEach(j -> a.add(j.toJson()));
        json(req, 200, a);
      }
      case "verify" -> json(req, 200, verification);
      default -> {
        if (path.startsWith("prefetch/")) {
          Prefetcher.Job j = prefetcher.job(path.substring("prefetch/".length()));
          if (j == null) {
            throw new RegistryException(ErrorCode.NOT_FOUND, "no prefetch job " + path.substring(9));
          }
          json(req, 200, j.toJson());
          return;
        }
        throw new RegistryException(ErrorCode.NOT_FOUND, "no admin API at " + PREFIX + path
            + " (GET stats, models, blobs, downloads, pins, aliases, prefetch, verify)");
      }
    }
  }

  private JsonObject stats() throws IOException {
    FileStore fs = Files.getFileStore(store.root());
    long served = traffic.servedBytes();
    long fetched = traffic.upstreamBytes();
    return new JsonObject()
        .put("cache", new JsonObject().put("path", store.root().toString()).put("bytes", store.committedBytes())
            .put("blobs", store.committedBlobs()).put("limitBytes", space.limit()).put("reservedBytes", space.reserved())
            .put("partialBytes", store.partialBytes()).put("evictions", space.evictions()))
        .put("disk", new JsonObject().put("totalBytes", fs.getTotalSpace()).put("freeBytes", fs.getUsableSpace()))
        .put("downloads", new JsonObject().put("active", downloads.activeCount()))
        .put("catalog", new JsonObject().put("manifests", catalog.manifests().size()).put("tags", catalog.tags().size())
            .put("pins", catalog.pins().size()).put("aliases", aliases.all().size()))
        .put("traffic", trafficJson(served, fetched))
        .put("peers", traffic.peers())
        .put("node", new JsonObject().put("version", ProxyConfig.VERSION).put("upstream", upstream));
  }

  private JsonObject trafficJson(long served, long fetched) {
    long hits = traffic.blobRequests("hit");
    long inflight = traffic.blobRequests("inflight");
    long misses = traffic.blobRequests("miss");
    long all = hits + inflight + misses;
    // by requests, only answers from committed blobs count: one client's 16 parts joining the download it started
    // are "inflight", not hits. The byte ratio (bytes served that upstream did not carry) is what the WAN saw.
    return new JsonObject().put("servedBytes", served).put("upstreamBytes", fetched)
        .put("savedBytes", Math.max(0, served - fetched))
        .put("blobRequests", new JsonObject().put("hit", hits).put("inflight", inflight).put("miss", misses))
        .put("hitRatio", all == 0 ? null : (double) hits / all)
        .put("byteHitRatio", served == 0 ? null : Math.max(0, (double) (served - fetched) / served));
  }

  private JsonArray models() {
    Map<Digest, BlobRecord> blobs = new HashMap<>();
    for (BlobRecord r : store.blobs()) {
      blobs.put(r.digest(), r);
    }
    Set<String> pinned = new HashSet<>();
    for (Pin p : catalog.pins()) {
      pinned.add(p.name());
    }
    long now = clock.millis();
    JsonArray out = new JsonArray();
    for (TagRecord t : catalog.tags()) {
      String name = t.repository() + ":" + t.tag();
      JsonObject o = new JsonObject().put("name", name).put("digest", t.digest().toString()).put("pinned", pinned.contains(name))
          .put("checkedAt", t.checkedAt()).put("revalidationDue", now - t.checkedAt() >= manifests.ttl().toMillis());
      ManifestRecord m = catalog.manifest(t.digest()).orElse(null);
      long size = 0;
      long cached = 0;
      long hits = 0;
      long lastAccess = 0;
      if (m != null) {
        for (ManifestService.Descriptor d : ManifestService.descriptors(m.bytes())) {
          size += d.size();
          BlobRecord r = blobs.get(d.digest());
          if (r != null) {
            cached += r.size();
            hits = Math.max(hits, r.hits());
            lastAccess = Math.max(lastAccess, r.lastAccess());
          }
        }
      }
      o.put("sizeBytes", size).put("cachedBytes", cached).put("complete", m != null && cached == size)
          .put("hits", hits).put("lastAccess", lastAccess == 0 ? null : lastAccess);
      JsonArray history = new JsonArray();
      for (TagEvent e : catalog.tagHistory(t.repository(), t.tag())) {
        history.add(new JsonObject().put("digest", e.digest().toString()).put("seenAt", e.seenAt()));
      }
      o.put("history", history);
      out.add(o);
    }
    return out;
  }

  private JsonArray blobs() {
    Map<Digest, List<String>> usedBy = new HashMap<>();
    for (TagRecord t : catalog.tags()) {
      catalog.manifest(t.digest()).ifPresent(m -> {
        for (Digest d : m.references()) {
          usedBy.computeIfAbsent(d, k -> new java.util.ArrayList<>()).add(t.repository() + ":" + t.tag());
        }
      });
    }
    Set<Digest> pinned = catalog.pinnedDigests();
    JsonArray out = new JsonArray();
    for (BlobRecord r : store.blobs()) {
      out.add(new JsonObject().put("digest", r.digest().toString()).put("sizeBytes", r.size()).put("hits", r.hits())
          .put("lastAccess", r.lastAccess()).put("createdAt", r.createdAt()).put("pinned", pinned.contains(r.digest()))
          .put("inUse", space.inUse(r.digest())).put("models", new JsonArray(usedBy.getOrDefault(r.digest(), List.of()))));
    }
    return out;
  }

  private JsonArray downloadsJson() {
    JsonArray out = new JsonArray();
    for (BlobDownload d : downloads.downloads()) {
      long size = d.size();
      long done = d.bytesDone();
      out.add(new JsonObject().put("digest", d.digest().toString()).put("repository", d.repository().value())
          .put("state", d.state().name().toLowerCase(java.util.Locale.ROOT)).put("sizeBytes", size < 0 ? null : size)
          .put("doneBytes", done).put("progress", size > 0 ? (double) done / size : null)
          .put("rateBytesPerSecond", d.rateBytesPerSecond()).put("source", d.source()).put("connections", d.connections())
          .put("readers", d.readerCount()).put("startedAt", d.startedAt()));
    }
    return out;
  }

  private JsonArray aliasesJson() {
    JsonArray a = new JsonArray();
    for (Alias x : aliases.all()) {
      a.add(new JsonObject().put("name", x.name()).put("target", x.target()).put("updatedAt", x.updatedAt()));
    }
    return a;
  }

  // ------------------------------------------------------------------ changes

  private void post(HttpServerRequest req, String path, JsonObject body) {
    switch (path) {
      case "pin" -> {
        Aliases.NameTag n = nameOf(body);
        reply(req, 200, blocking(() -> {
          catalog.pin(new Pin(n.repository(), n.tag(), clock.millis()));
          boolean cached = catalog.tag(n.repository(), n.tag()).flatMap(t -> catalog.manifest(t.digest())).isPresent();
          return new JsonObject().put("pinned", n.toString()).put("cached", cached)
              .put("note", cached ? null : "not in the cache yet: prefetch it to fetch it now");
        }));
      }
      case "unpin" -> {
        Aliases.NameTag n = nameOf(body);
        reply(req, 200, blocking(() -> {
          if (!catalog.unpin(n.repository(), n.tag())) {
            throw new RegistryException(ErrorCode.NOT_FOUND, n + " is not pinned");
          }
          return new JsonObject().put("unpinned", n.toString());
        }));
      }
      case "evict" -> reply(req, 200, blocking(() -> evict(body)));
      case "refresh" -> {
        Aliases.NameTag asked = nameOf(body);
        // an alias is refreshed by refreshing the tag it follows (upstream does not know the alias name)
        Alias alias = aliases.get(asked.repository(), asked.tag()).orElse(null);
        if (alias != null && alias.targetTag() == null) {
          throw bad(asked + " is an alias fixed to " + alias.target() + ": there is nothing to refresh");
        }
        Aliases.NameTag n = alias == null ? asked : new Aliases.NameTag(alias.targetRepository(), alias.targetTag());
        reply(req, 200, manifests.refresh(n.repository(), n.tag()).map(r -> new JsonObject().put("name", n.toString())
            .put("before", r.previous() == null ? null : r.previous().toString()).put("after", r.manifest().digest().toString())
            .put("changed", r.previous() != null && !r.previous().equals(r.manifest().digest()))));
      }
      case "prefetch" -> {
        Aliases.NameTag n = nameOf(body);
        json(req, 202, prefetcher.start(n).toJson());
      }
      case "alias" -> {
        String name = field(body, "name");
        String target = field(body, "target");
        Alias a;
        try {
          a = aliases.parse(name, target);
        } catch (IllegalArgumentException e) {
          throw bad("alias " + name + " -> " + target + ": " + e.getMessage());
        }
        reply(req, 200, blocking(() -> {
          aliases.put(a);
          return new JsonObject().put("name", a.name()).put("target", a.target());
        }));
      }
      case "unalias" -> {
        Aliases.NameTag n = nameOf(body);
        reply(req, 200, blocking(() -> {
          if (!aliases.remove(n.repository(), n.tag())) {
            throw new RegistryException(ErrorCode.NOT_FOUND, "no alias " + n);
          }
          return new JsonObject().put("removed", n.toString());
        }));
      }
      case "verify" -> json(req, 202, startVerify());
      default -> throw new RegistryException(ErrorCode.NOT_FOUND, "no admin API at POST " + PREFIX + path
          + " (POST pin, unpin, evict, refresh, prefetch, alias, unalias, verify)");
    }
  }

  /** Evicts one blob ({@code digest}) or every blob of a model ({@code name}); nothing when any of them may not go. */
  private JsonObject evict(JsonObject body) {
    JsonArray kept = new JsonArray();
    List<Digest> targets;
    String what;
    if (body.getValue("digest") != null) {
      String d = field(body, "digest");
      try {
        targets = List.of(Digest.parse(d));
      } catch (IllegalArgumentException e) {
        throw bad(e.getMessage());
      }
      what = d;
    } else {
      Aliases.NameTag n = nameOf(body);
      TagRecord t = catalog.tag(n.repository(), n.tag())
          .orElseThrow(() -> new RegistryException(ErrorCode.NOT_FOUND, n + " is not in the cache"));
      ManifestRecord m = catalog.manifest(t.digest())
          .orElseThrow(() -> new RegistryException(ErrorCode.NOT_FOUND, n + " is not in the cache"));
      // blobs another cached model also uses stay: evicting a model by name must not take its neighbours' layers
      Set<Digest> shared = catalog.digestsOfOtherTags(n.repository(), n.tag());
      targets = new java.util.ArrayList<>();
      for (Digest d : m.references()) {
        if (shared.contains(d)) {
          kept.add(d.toString());
        } else {
          targets.add(d);
        }
      }
      what = n.toString();
    }
    // checked and evicted under the space manager's lock: no download can reserve one of them in between
    synchronized (space) {
      Set<Digest> keep = space.protectedDigests();
      for (Digest d : targets) {
        if (keep.contains(d)) {
          String why = catalog.pinnedDigests().contains(d) ? "is pinned (unpin its model first)"
              : downloads.downloads().stream().anyMatch(x -> x.digest().equals(d)) ? "is being downloaded" : "is being served";
          throw new RegistryException(ErrorCode.DENIED, 409, what + ": blob " + d.shortHex() + " " + why + "; nothing was evicted", null);
        }
      }
      if (body.getValue("digest") != null && store.lookup(targets.get(0)).isEmpty()) {
        throw new RegistryException(ErrorCode.BLOB_UNKNOWN, "blob " + what + " is not in the cache");
      }
      long freed = 0;
      JsonArray evicted = new JsonArray();
      for (Digest d : targets) {
        long n = space.evictNow(d);
        if (n > 0) {
          freed += n;
          evicted.add(d.toString());
        }
      }
      JsonObject out = new JsonObject().put("evicted", evicted).put("freedBytes", freed);
      if (!kept.isEmpty()) {
        out.put("keptShared", kept).put("note", kept.size() + " blob(s) kept: other cached models use them");
      }
      return out;
    }
  }

  private synchronized JsonObject startVerify() {
    if ("running".equals(verification.getString("state"))) {
      return verification;
    }
    JsonObject status = new JsonObject().put("state", "running").put("startedAt", clock.millis()).put("blobsDone", 0)
        .put("bytesDone", 0);
    verification = status;
    vertx.executeBlocking(() -> BlobVerifier.verify(store, space::inUse, (blobs, blobsTotal, bytes, bytesTotal) ->
        verification = status.copy().put("blobsDone", blobs).put("blobsTotal", blobsTotal).put("bytesDone", bytes).put("bytesTotal", bytesTotal)),
        false).onComplete(ar -> {
          JsonObject done = verification.copy().put("finishedAt", clock.millis());
          if (ar.failed()) {
            done.put("state", "failed").put("error", String.valueOf(ar.cause()));
          } else {
            BlobVerifier.Report r = ar.result();
            JsonArray corrupt = new JsonArray();
            r.corrupt().forEach(d -> corrupt.add(d.toString()));
            JsonArray skipped = new JsonArray();
            r.skipped().forEach(d -> skipped.add(d.toString()));
            done.put("state", "done").put("checked", r.checked()).put("corrupt", corrupt).put("skipped", skipped)
                .put("unreadable", new JsonArray(r.unreadable()));
            if (!r.corrupt().isEmpty()) {
              LOG.warning(() -> "verify: " + r.corrupt().size() + " blob(s) no longer match their digest; moved to quarantine/: " + r.corrupt());
            }
          }
          verification = done;
        });
    return status;
  }
}
