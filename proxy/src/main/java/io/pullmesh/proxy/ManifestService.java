package io.pullmesh.proxy;

import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.OllamaVersion;
import io.pullmesh.core.VersionGate;
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
import java.util.Optional;
import java.util.logging.Logger;

/**
 * Manifests through the cache. By digest: from the cache, else fetched once and kept (a digest never changes).
 * By tag: from the cache while younger than the TTL, else revalidated upstream; when upstream cannot answer the
 * cached manifest is served stale and the response says so. An alias is served as the manifest of its target.
 * Concurrent requests for the same tag or digest share one upstream request. Each fetched manifest's blob sizes
 * are remembered so a HEAD on its blobs can be answered before they are fetched, and its blob list is kept so
 * pinning it can protect them.
 *
 * <p>Version-gated tags (registry.ollama.ai answers 412 to an Ollama older than the model needs, ollama #11457): a
 * manifest is fetched under the client's User-Agent ({@link Exchange#upstreamAgent()}), or the configured one for work
 * with no client. What upstream said is kept per tag as a {@link VersionGate}: a client no newer than one refused gets
 * the 412 and the registry's words from the cache (offline too), a client the registry accepted (or newer) is served
 * from the cache like any other, and one in between is asked about upstream. A 412 is never stored as the tag's content.
 */
final class ManifestService {
  private static final Logger LOG = Logger.getLogger(ManifestService.class.getName());

  /**
   * A manifest to serve.
   *
   * @param cache how it was found: hit, miss, revalidated, updated, stale (upstream failed), revalidating (past its TTL, served
   *     while a revalidation runs), peer
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
  private final Duration maxStale;
  private final MetricsRecorder metrics;
  private final String defaultAgent;
  private final SharedFetches<Result> shared;
  /** How long a manifest fetch that answered stays shared with requests that read the catalog before it was saved. */
  private static final long SHARED_GRACE_MS = 1000;
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
    if (p == null || upstreamError.code() == ErrorCode.MANIFEST_UNKNOWN || upstreamError.code() == ErrorCode.DENIED
        || upstreamError.code() == ErrorCode.PRECONDITION_FAILED) {
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

  /** @param defaultAgent the User-Agent sent upstream for work with no Ollama client attached ({@code --user-agent}) */
  /**
   * @param maxStale past {@code ttl}, how long a tag is answered from the cache at once while one revalidation runs in the
   *     background (stale-while-revalidate, RFC 5861); zero: requests wait for the revalidation
   */
  ManifestService(Vertx vertx, UpstreamRouter upstreams, Catalog catalog, Aliases aliases, Clock clock, Duration ttl, Duration maxStale,
      MetricsRecorder metrics, String defaultAgent) {
    this.maxStale = maxStale;
    this.defaultAgent = defaultAgent;
    this.vertx = vertx;
    this.shared = new SharedFetches<>(System::nanoTime, (ms, task) -> vertx.setTimer(ms, id -> task.run()), SHARED_GRACE_MS);
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

  /** As {@link #get(RepositoryName, Reference, String)} with no client attached (prefetch): the configured User-Agent. */
  Future<Result> get(RepositoryName repo, Reference ref) {
    return get(repo, ref, null);
  }

  /**
   * @param userAgent the client's User-Agent to ask upstream with, or null for the configured one
   * @return fails with {@link RegistryException}: MANIFEST_UNKNOWN (404), DENIED (403), PRECONDITION_FAILED (412, the
   *     registry's words), UPSTREAM_ERROR (502), UPSTREAM_TIMEOUT (504), TOOMANYREQUESTS (429)
   */
  Future<Result> get(RepositoryName repo, Reference ref, String userAgent) {
    String agent = userAgent == null ? defaultAgent : userAgent;
    Optional<Alias> alias = ref.isDigest() ? Optional.empty() : aliases.get(repo, ref.tag().orElseThrow());
    Future<Result> f;
    if (alias.isPresent()) {
      Alias a = alias.get();
      f = a.targetDigest() != null ? byDigest(a.targetRepository(), a.targetDigest(), agent) : byTag(a.targetRepository(), a.targetTag(), false, agent);
    } else {
      f = ref.isDigest() ? byDigest(repo, ref.digest().orElseThrow(), agent) : byTag(repo, ref.tag().orElseThrow(), false, agent);
    }
    return Futures.onCallerContext(vertx, f).onSuccess(r -> metrics.manifestRequest(r.cache()))
        .onFailure(t -> metrics.manifestRequest(RegistryException.of(t).code() == ErrorCode.PRECONDITION_FAILED ? "refused" : "error"));
  }

  /**
   * Revalidates a tag upstream now, whatever its age, under the configured User-Agent.
   *
   * @return the manifest it points to; fails like {@link #get}, never with a stale answer
   */
  Future<Result> refresh(RepositoryName repo, String tag) {
    return Futures.onCallerContext(vertx, byTag(repo, tag, true, defaultAgent));
  }

  /** Fetches a manifest from the repository's upstream, under its name there. */
  private Future<FetchedManifest> fetch(RepositoryName repo, Reference ref, String agent) {
    UpstreamRouter.Route route = upstreams.route(repo);
    return route.upstream().manifest(route.remote(), ref, agent);
  }

  private Future<Result> byDigest(RepositoryName repo, Digest digest, String agent) {
    long readAt = System.nanoTime();
    return vertx.executeBlocking(() -> catalog.manifest(digest), false).compose(cached -> {
      if (cached.isPresent()) {
        return Future.succeededFuture(new Result(cached.get(), "hit", null, null));
      }
      return shared.join("digest " + digest, readAt, () -> fetch(repo, Reference.of(digest), agent)
          .compose(m -> save(repo, null, m).map(rec -> new Result(rec, "miss", null, null)))
          .recover(t -> fromPeers(repo, Reference.of(digest), null, RegistryException.of(t), null)));
    });
  }

  private record Cached(Optional<TagRecord> tag, Optional<ManifestRecord> manifest, VersionGate gate) {
    boolean present() {
      return manifest.isPresent();
    }
  }

  private Future<Result> byTag(RepositoryName repo, String tag, boolean force, String agent) {
    Optional<OllamaVersion> version = OllamaVersion.fromUserAgent(agent);
    long readAt = System.nanoTime();
    return vertx.executeBlocking(() -> {
      Optional<TagRecord> t = catalog.tag(repo, tag);
      return new Cached(t, t.flatMap(r -> catalog.manifest(r.digest())), catalog.gate(repo, tag));
    }, false).compose(cached -> {
      VersionGate.Verdict verdict = cached.gate().verdict(version);
      if (verdict == VersionGate.Verdict.REFUSED) {
        return Future.<Result>failedFuture(refusal(repo, tag, cached.gate()));
      }
      long age = cached.present() ? clock.millis() - cached.tag().orElseThrow().checkedAt() : Long.MAX_VALUE;
      boolean servable = !force && cached.present() && verdict == VersionGate.Verdict.ACCEPTED;
      if (servable && age < ttl.toMillis()) {
        return Future.succeededFuture(new Result(cached.manifest().orElseThrow(), "hit", null, null));
      }
      String key = (force ? "refresh " : "") + repo + ":" + tag + version.map(v -> " as " + v).orElse("");
      Future<Result> revalidation = shared.join(key, readAt, () -> revalidate(repo, tag, force, agent, version, cached));
      if (servable && age - ttl.toMillis() < maxStale.toMillis()) {
        // stale-while-revalidate: this request does not wait; the one revalidation it started (or joined) updates the tag
        revalidation.onFailure(t -> LOG.fine(() -> "background revalidation of " + repo + ":" + tag + " failed: " + t.getMessage()));
        return Future.succeededFuture(new Result(cached.manifest().orElseThrow(), "revalidating", null, null));
      }
      return revalidation;
    });
  }

  /** Asks upstream for a tag under {@code agent}, and records what its version gate said. */
  private Future<Result> revalidate(RepositoryName repo, String tag, boolean force, String agent, Optional<OllamaVersion> version,
      Cached cached) {
    Digest before = cached.manifest().map(ManifestRecord::digest).orElse(null);
    VersionGate accepted = version.map(cached.gate()::accepted).filter(g -> !g.equals(cached.gate())).orElse(null);
    Future<Result> fetched = fetch(repo, Reference.parse(tag), agent)
        .compose(m -> save(repo, tag, m, clock.millis(), accepted))
        .map(rec -> new Result(rec, before == null ? "miss" : before.equals(rec.digest()) ? "revalidated" : "updated", null, before));
    return fetched.recover(t -> {
      RegistryException e = RegistryException.of(t);
      if (e.code() == ErrorCode.PRECONDITION_FAILED) {
        if (version.isEmpty()) {
          return Future.failedFuture(e);
        }
        Future<Void> remembered = vertx.executeBlocking(() -> {
          catalog.putGate(repo, tag, cached.gate().refused(version.get(), e.getMessage()));
          return null;
        }, false);
        return remembered.transform(ar -> Future.failedFuture(e));
      }
      if (!force && cached.present() && e.code() != ErrorCode.MANIFEST_UNKNOWN) {
        LOG.warning(() -> "serving cached " + repo + ":" + tag + " (" + before.shortHex() + ") without revalidation: " + e.getMessage());
        return Future.succeededFuture(new Result(cached.manifest().orElseThrow(), "stale", e.getMessage(), before));
      }
      return force ? Future.failedFuture(e) : fromPeers(repo, Reference.parse(tag), tag, e, before);
    });
  }

  /** The 412 a client gets from the cache for a tag upstream refused to a version no older than its own. */
  private static RegistryException refusal(RepositoryName repo, String tag, VersionGate gate) {
    String words = gate.refusal() != null ? gate.refusal()
        : "upstream refused " + repo + ":" + tag + " to Ollama " + gate.newestRefused() + " and older: a newer Ollama is needed";
    return new RegistryException(ErrorCode.PRECONDITION_FAILED, words);
  }

  private Future<ManifestRecord> save(RepositoryName repo, String tag, FetchedManifest m) {
    return save(repo, tag, m, clock.millis(), null);
  }

  private Future<ManifestRecord> save(RepositoryName repo, String tag, FetchedManifest m, long checkedAt) {
    return save(repo, tag, m, checkedAt, null);
  }

  /**
   * @param checkedAt when the tag was last confirmed upstream (0: never)
   * @param gate what upstream's version gate now says of the tag, or null to leave it
   */
  private Future<ManifestRecord> save(RepositoryName repo, String tag, FetchedManifest m, long checkedAt, VersionGate gate) {
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
        if (gate != null) {
          catalog.putGate(repo, tag, gate);
        }
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
