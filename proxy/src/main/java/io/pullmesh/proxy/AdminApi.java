package io.pullmesh.proxy;

import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.pullmesh.store.Alias;
import io.pullmesh.store.BlobStore;
import io.pullmesh.store.BlobVerifier;
import io.pullmesh.store.Catalog;
import io.pullmesh.store.Pin;
import io.pullmesh.store.SpaceManager;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Clock;
import java.util.List;
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
  private final ManifestService manifests;
  private final Aliases aliases;
  private final Prefetcher prefetcher;
  private final AdminGuard guard;
  private final Clock clock;
  private final AdminViews views;
  private volatile JsonObject verification = new JsonObject().put("state", "never run");

  AdminApi(Vertx vertx, BlobStore store, SpaceManager space, ManifestService manifests, Aliases aliases, Prefetcher prefetcher,
      AdminGuard guard, Clock clock, AdminViews views) {
    this.vertx = vertx;
    this.store = store;
    this.catalog = store.catalog();
    this.space = space;
    this.manifests = manifests;
    this.aliases = aliases;
    this.prefetcher = prefetcher;
    this.guard = guard;
    this.clock = clock;
    this.views = views;
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
      case "stats" -> reply(req, 200, blocking(views::stats));
      case "models" -> reply(req, 200, blocking(views::models));
      case "blobs" -> reply(req, 200, blocking(views::blobs));
      case "downloads" -> json(req, 200, views.downloads());
      case "pins" -> reply(req, 200, blocking(views::pins));
      case "aliases" -> json(req, 200, views.aliases());
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
    SpaceManager.OperatorEviction e;
    if (body.getValue("digest") != null) {
      Digest d;
      try {
        d = Digest.parse(field(body, "digest"));
      } catch (IllegalArgumentException x) {
        throw bad(x.getMessage());
      }
      long n = space.evictNow(d);
      e = new SpaceManager.OperatorEviction(n > 0 ? List.of(d) : List.of(), n, List.of());
    } else {
      Aliases.NameTag n = nameOf(body);
      e = space.evictModel(n.repository(), n.tag());
    }
    JsonArray evicted = new JsonArray();
    e.evicted().forEach(d -> evicted.add(d.toString()));
    JsonObject out = new JsonObject().put("evicted", evicted).put("freedBytes", e.freedBytes());
    if (!e.keptShared().isEmpty()) {
      JsonArray kept = new JsonArray();
      e.keptShared().forEach(d -> kept.add(d.toString()));
      out.put("keptShared", kept).put("note", kept.size() + " blob(s) kept: other cached models use them");
    }
    return out;
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
