package io.pullmesh.proxy;

import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.Reference;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.fetch.FetchedManifest;
import io.pullmesh.fetch.Futures;
import io.pullmesh.fetch.UpstreamRouter;
import io.pullmesh.metrics.MetricsRecorder;
import io.pullmesh.store.Alias;
import io.pullmesh.store.Catalog;
import io.pullmesh.store.ManifestRecord;
import io.pullmesh.store.TagRecord;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * Manifests through the cache. By digest: from the cache, else fetched once and kept (a digest never changes).
 * By tag: from the cache while younger than the TTL, else revalidated upstream; when upstream cannot answer the
 * cached manifest is served stale and the response says so. An alias is served as the manifest of its target.
 * Concurrent requests for the same tag or digest share one upstream request. Each fetched manifest's blob sizes
 * are remembered so a HEAD on its blobs can be answered before they are fetched, and its blob list is kept so
 * pinning it can protect them.
 */
final class ManifestService {
  private static final Logger LOG = Logger.getLogger(ManifestService.class.getName());

  /**
   * A manifest to serve.
   *
   * @param cache how it was found: hit, miss, revalidated, updated, stale
   * @param warning for a stale answer, why upstream was not asked successfully
   * @param previous for a tag that was revalidated, the digest it pointed to before (else null)
   */
  record Result(ManifestRecord manifest, String cache, String warning, Digest previous) {}

  private final Vertx vertx;
  private final UpstreamRouter upstreams;
  private final Catalog catalog;
  private final Aliases aliases;
  private final Clock clock;
  private final Duration ttl;
  private final MetricsRecorder metrics;
  private final Map<String, Future<Result>> pending = new ConcurrentHashMap<>();
  private volatile PeerSource peers;

  /** Other nodes of the mesh, asked for a manifest in their cache when upstream cannot be reached. */
  interface PeerSource {
    /** A manifest some peer holds, its bytes checked against its digest; fails when none has it. */
    Future<FetchedManifest> manifest(RepositoryName repo, String reference);
  }

  /** Makes manifests this node cannot get from upstream come from peers' caches (null: never). */
  void usePeers(PeerSource peers) {
    this.peers = peers;
  }

  /**
   * When upstream failed (not with "no such manifest"), asks the mesh: an office cut off from the WAN still pulls what
   * any node of it has. The tag is recorded as never checked, so the next request asks upstream first again.
   */
  private Future<Result> fromPeers(RepositoryName repo, Reference ref, String tag, RegistryException upstreamError, Digest before) {
    PeerSource p = peers;
    if (p == null || upstreamError.code() == ErrorCode.MANIFEST_UNKNOWN || upstreamError.code() == ErrorCode.DENIED) {
      return Future.failedFuture(upstreamError);
    }
    String reference = ref.isDigest() ? ref.digest().orElseThrow().toString() : ref.tag().orElseThrow();
    return p.manifest(repo, reference)
        .compose(m -> {
          if (ref.isDigest() && !m.digest().equals(ref.digest().orElseThrow())) {
            return Future.failedFuture(upstreamError);
          }
          LOG.warning(() -> "upstream failed for " + repo + ":" + reference + " (" + upstreamError.getMessage() + "); served "
              + m.digest().shortHex() + " from a peer's cache");
          return save(repo, tag, m, 0).map(rec -> new Result(rec, "peer", upstreamError.getMessage(), before));
        })
        .recover(t -> Future.failedFuture(upstreamError));
  }

  ManifestService(Vertx vertx, UpstreamRouter upstreams, Catalog catalog, Aliases aliases, Clock clock, Duration ttl,
      MetricsRecorder metrics) {
    this.vertx = vertx;
    this.upstreams = upstreams;
    this.catalog = catalog;
    this.aliases = aliases;
    this.clock = clock;
    this.ttl = ttl;
    this.metrics = metrics;
  }

  Duration ttl() {
    return ttl;
  }

  /**
   * @return fails with {@link RegistryException}: MANIFEST_UNKNOWN (404), DENIED (403), UPSTREAM_ERROR (502),
   *     UPSTREAM_TIMEOUT (504), TOOMANYREQUESTS (429)
   */
  Future<Result> get(RepositoryName repo, Reference ref) {
    Optional<Alias> alias = ref.isDigest() ? Optional.empty() : aliases.get(repo, ref.tag().orElseThrow());
    Future<Result> f;
    if (alias.isPresent()) {
      Alias a = alias.get();
      f = a.targetDigest() != null ? byDigest(a.targetRepository(), a.targetDigest()) : byTag(a.targetRepository(), a.targetTag(), false);
    } else {
      f = ref.isDigest() ? byDigest(repo, ref.digest().orElseThrow()) : byTag(repo, ref.tag().orElseThrow(), false);
    }
    return Futures.onCallerContext(vertx, f).onSuccess(r -> metrics.manifestRequest(r.cache())).onFailure(t -> metrics.manifestRequest("error"));
  }

  /**
   * Revalidates a tag upstream now, whatever its age.
   *
   * @return the manifest it points to; fails like {@link #get}, never with a stale answer
   */
  Future<Result> refresh(RepositoryName repo, String tag) {
    return Futures.onCallerContext(vertx, byTag(repo, tag, true));
  }

  /** Fetches a manifest from the repository's upstream, under its name there. */
  private Future<FetchedManifest> fetch(RepositoryName repo, Reference ref) {
    UpstreamRouter.Route route = upstreams.route(repo);
    return route.upstream().manifest(route.remote(), ref);
  }

  private Future<Result> byDigest(RepositoryName repo, Digest digest) {
    return vertx.executeBlocking(() -> catalog.manifest(digest), false).compose(cached -> {
      if (cached.isPresent()) {
        return Future.succeededFuture(new Result(cached.get(), "hit", null, null));
      }
      return shared("digest " + digest, () -> fetch(repo, Reference.of(digest))
          .compose(m -> save(repo, null, m).map(rec -> new Result(rec, "miss", null, null)))
          .recover(t -> fromPeers(repo, Reference.of(digest), null, RegistryException.of(t), null)));
    });
  }

  private record Cached(TagRecord tag, ManifestRecord manifest) {}

  private Future<Result> byTag(RepositoryName repo, String tag, boolean force) {
    return vertx.executeBlocking(() -> {
      Optional<TagRecord> t = catalog.tag(repo, tag);
      if (t.isEmpty()) {
        return Optional.<Cached>empty();
      }
      return catalog.manifest(t.get().digest()).map(m -> new Cached(t.get(), m));
    }, false).compose(cached -> {
      if (!force && cached.isPresent() && clock.millis() - cached.get().tag().checkedAt() < ttl.toMillis()) {
        return Future.succeededFuture(new Result(cached.get().manifest(), "hit", null, null));
      }
      Digest before = cached.map(c -> c.manifest().digest()).orElse(null);
      return shared((force ? "refresh " : "") + repo + ":" + tag, () -> fetch(repo, Reference.parse(tag))
          .compose(m -> save(repo, tag, m).map(rec -> new Result(rec,
              before == null ? "miss" : before.equals(rec.digest()) ? "revalidated" : "updated", null, before)))
          .recover(t -> {
            RegistryException e = RegistryException.of(t);
            if (!force && cached.isPresent() && e.code() != ErrorCode.MANIFEST_UNKNOWN) {
              LOG.warning(() -> "serving cached " + repo + ":" + tag + " (" + cached.get().manifest().digest().shortHex()
                  + ") without revalidation: " + e.getMessage());
              return Future.succeededFuture(new Result(cached.get().manifest(), "stale", e.getMessage(), before));
            }
            return force ? Future.failedFuture(e) : fromPeers(repo, Reference.parse(tag), tag, e, before);
          }));
    });
  }

  private Future<Result> shared(String key, Supplier<Future<Result>> fetch) {
    List<Future<Result>> created = new ArrayList<>(1);
    Future<Result> f = pending.computeIfAbsent(key, k -> {
      Future<Result> started = fetch.get();
      created.add(started);
      return started;
    });
    if (!created.isEmpty()) {
      f.onComplete(ar -> pending.remove(key, f));
    }
    return f;
  }

  private Future<ManifestRecord> save(RepositoryName repo, String tag, FetchedManifest m) {
    return save(repo, tag, m, clock.millis());
  }

  /** @param checkedAt when the tag was last confirmed upstream (0: never) */
  private Future<ManifestRecord> save(RepositoryName repo, String tag, FetchedManifest m, long checkedAt) {
    long now = clock.millis();
    return vertx.executeBlocking(() -> {
      List<Descriptor> blobs = descriptors(m.bytes());
      List<Digest> refs = new ArrayList<>();
      for (Descriptor d : blobs) {
        refs.add(d.digest());
        catalog.putSizeHint(d.digest(), d.size());
      }
      ManifestRecord rec = new ManifestRecord(m.digest(), m.contentType(), m.bytes(), now, refs);
      catalog.putManifest(rec);
      if (tag != null) {
        catalog.putTag(new TagRecord(repo, tag, m.digest(), checkedAt));
      }
      return rec;
    }, false);
  }

  /** A blob a manifest names. */
  record Descriptor(Digest digest, long size) {}

  /** The config and layer blobs a manifest names, with their sizes; empty for what is not a manifest. */
  static List<Descriptor> descriptors(byte[] bytes) {
    List<Descriptor> out = new ArrayList<>();
    JsonObject json;
    try {
      json = new JsonObject(Buffer.buffer(bytes));
    } catch (RuntimeException e) {
      return out;
    }
    add(out, json.getValue("config"));
    Object layers = json.getValue("layers");
    if (layers instanceof JsonArray arr) {
      for (Object l : arr) {
        add(out, l);
      }
    }
    return out;
  }

  private static void add(List<Descriptor> out, Object descriptor) {
    if (descriptor instanceof JsonObject d && d.getValue("digest") instanceof String s && d.getValue("size") instanceof Number n
        && Digest.isValid(s) && n.longValue() >= 0) {
      out.add(new Descriptor(Digest.parse(s), n.longValue()));
    }
  }
}
