package io.pullmesh.proxy;

import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.Reference;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.fetch.FetchedManifest;
import io.pullmesh.fetch.UpstreamRegistry;
import io.pullmesh.metrics.MetricsRecorder;
import io.pullmesh.store.BlobStore;
import io.pullmesh.store.ManifestRecord;
import io.pullmesh.store.TagRecord;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * Manifests through the cache. By digest: from the cache, else fetched once and kept (a digest never changes).
 * By tag: from the cache while younger than the TTL, else revalidated upstream; when upstream cannot answer the
 * cached manifest is served stale and the response says so. Concurrent requests for the same tag or digest
 * share one upstream request. Each fetched manifest's blob sizes are remembered so a HEAD on its blobs can be
 * answered before they are fetched.
 */
final class ManifestService {
  private static final Logger LOG = Logger.getLogger(ManifestService.class.getName());

  /**
   * A manifest to serve.
   *
   * @param cache how it was found: hit, miss, revalidated, updated, stale
   * @param warning for a stale answer, why upstream was not asked successfully
   */
  record Result(ManifestRecord manifest, String cache, String warning) {}

  private final Vertx vertx;
  private final UpstreamRegistry upstream;
  private final BlobStore store;
  private final Clock clock;
  private final Duration ttl;
  private final MetricsRecorder metrics;
  private final Map<String, Future<Result>> pending = new ConcurrentHashMap<>();

  ManifestService(Vertx vertx, UpstreamRegistry upstream, BlobStore store, Clock clock, Duration ttl, MetricsRecorder metrics) {
    this.vertx = vertx;
    this.upstream = upstream;
    this.store = store;
    this.clock = clock;
    this.ttl = ttl;
    this.metrics = metrics;
  }

  /**
   * @return fails with {@link RegistryException}: MANIFEST_UNKNOWN (404), DENIED (403), UPSTREAM_ERROR (502),
   *     UPSTREAM_TIMEOUT (504), TOOMANYREQUESTS (429)
   */
  Future<Result> get(RepositoryName repo, Reference ref) {
    Future<Result> f = ref.isDigest() ? byDigest(repo, ref.digest().orElseThrow()) : byTag(repo, ref.tag().orElseThrow());
    return io.pullmesh.fetch.Futures.onCallerContext(vertx, f).onSuccess(r -> metrics.manifestRequest(r.cache())).onFailure(t -> metrics.manifestRequest("error"));
  }

  private Future<Result> byDigest(RepositoryName repo, Digest digest) {
    return vertx.executeBlocking(() -> store.manifest(digest), false).compose(cached -> {
      if (cached.isPresent()) {
        return Future.succeededFuture(new Result(cached.get(), "hit", null));
      }
      return shared("digest " + digest, () -> upstream.manifest(repo, Reference.of(digest))
          .compose(m -> save(repo, null, m).map(rec -> new Result(rec, "miss", null))));
    });
  }

  private record Cached(TagRecord tag, ManifestRecord manifest) {}

  private Future<Result> byTag(RepositoryName repo, String tag) {
    return vertx.executeBlocking(() -> {
      Optional<TagRecord> t = store.tag(repo, tag);
      if (t.isEmpty()) {
        return Optional.<Cached>empty();
      }
      return store.manifest(t.get().digest()).map(m -> new Cached(t.get(), m));
    }, false).compose(cached -> {
      if (cached.isPresent() && clock.millis() - cached.get().tag().checkedAt() < ttl.toMillis()) {
        return Future.succeededFuture(new Result(cached.get().manifest(), "hit", null));
      }
      return shared(repo + ":" + tag, () -> upstream.manifest(repo, Reference.parse(tag))
          .compose(m -> save(repo, tag, m).map(rec -> new Result(rec,
              cached.isEmpty() ? "miss" : cached.get().manifest().digest().equals(rec.digest()) ? "revalidated" : "updated", null)))
          .recover(t -> {
            RegistryException e = RegistryException.of(t);
            if (cached.isPresent() && e.code() != ErrorCode.MANIFEST_UNKNOWN) {
              LOG.warning(() -> "serving cached " + repo + ":" + tag + " (" + cached.get().manifest().digest().shortHex()
                  + ") without revalidation: " + e.getMessage());
              return Future.succeededFuture(new Result(cached.get().manifest(), "stale", e.getMessage()));
            }
            return Future.failedFuture(e);
          }));
    });
  }

  private Future<Result> shared(String key, java.util.function.Supplier<Future<Result>> fetch) {
    Future<Result>[] created = new Future[1];
    Future<Result> f = pending.computeIfAbsent(key, k -> {
      created[0] = fetch.get();
      return created[0];
    });
    if (created[0] != null) {
      f.onComplete(ar -> pending.remove(key, f));
    }
    return f;
  }

  private Future<ManifestRecord> save(RepositoryName repo, String tag, FetchedManifest m) {
    long now = clock.millis();
    ManifestRecord rec = new ManifestRecord(m.digest(), m.contentType(), m.bytes(), now);
    return vertx.executeBlocking(() -> {
      store.putManifest(rec);
      if (tag != null) {
        store.putTag(new TagRecord(repo, tag, m.digest(), now));
      }
      rememberBlobSizes(m.bytes());
      return rec;
    }, false);
  }

  /** Records the size each config and layer blob is announced with. Ignores what is not a manifest. */
  private void rememberBlobSizes(byte[] bytes) {
    JsonObject json;
    try {
      json = new JsonObject(Buffer.buffer(bytes));
    } catch (RuntimeException e) {
      return;
    }
    remember(json.getValue("config"));
    Object layers = json.getValue("layers");
    if (layers instanceof JsonArray arr) {
      for (Object l : arr) {
        remember(l);
      }
    }
  }

  private void remember(Object descriptor) {
    if (descriptor instanceof JsonObject d && d.getValue("digest") instanceof String s && d.getValue("size") instanceof Number n
        && Digest.isValid(s) && n.longValue() >= 0) {
      store.putSizeHint(Digest.parse(s), n.longValue());
    }
  }
}
