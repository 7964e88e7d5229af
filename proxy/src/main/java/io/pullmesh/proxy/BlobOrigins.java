package io.pullmesh.proxy;

import io.pullmesh.core.Digest;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.store.Catalog;
import io.pullmesh.store.ManifestRecord;
import io.pullmesh.store.TagRecord;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Which repository a blob belongs to, for requests that name only a digest: an intercepted CDN URL
 * ({@code https://<account>.r2.cloudflarestorage.com/ollama/docker/registry/v2/blobs/sha256/ab/<hex>/data?X-Amz-...})
 * carries no model name, but fetching from upstream needs one. Remembers the repository of every manifest served
 * (the last 16384 blobs), and otherwise looks through the cached tags.
 */
final class BlobOrigins {
  private static final int MAX = 16384;

  private final Vertx vertx;
  private final Catalog catalog;
  private final Map<Digest, RepositoryName> recent = new LinkedHashMap<>(256, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<Digest, RepositoryName> eldest) {
      return size() > MAX;
    }
  };

  BlobOrigins(Vertx vertx, Catalog catalog) {
    this.vertx = vertx;
    this.catalog = catalog;
  }

  /** Records that {@code repo}'s manifest names these blobs. */
  void served(RepositoryName repo, ManifestRecord manifest) {
    synchronized (recent) {
      for (Digest d : manifest.references()) {
        recent.put(d, repo);
      }
    }
  }

  /** The repository of a manifest that names {@code digest}, if one is known. */
  Future<Optional<RepositoryName>> find(Digest digest) {
    synchronized (recent) {
      RepositoryName r = recent.get(digest);
      if (r != null) {
        return Future.succeededFuture(Optional.of(r));
      }
    }
    return vertx.executeBlocking(() -> {
      for (TagRecord t : catalog.tags()) {
        Optional<ManifestRecord> m = catalog.manifest(t.digest());
        if (m.isPresent() && m.get().references().contains(digest)) {
          return Optional.of(t.repository());
        }
      }
      return Optional.<RepositoryName>empty();
    }, false);
  }

  /**
   * The blob a storage-layout path names: {@code .../sha256/<first two hex>/<64 hex>/data}, the layout of the
   * distribution registry's storage that registry.ollama.ai's presigned CDN URLs use; null for any other path.
   */
  static Digest digestOfStoragePath(String path) {
    String suffix = "/data";
    if (path == null || !path.endsWith(suffix)) {
      return null;
    }
    String rest = path.substring(0, path.length() - suffix.length());
    int slash = rest.lastIndexOf('/');
    if (slash < 0) {
      return null;
    }
    String hex = rest.substring(slash + 1);
    rest = rest.substring(0, slash);
    slash = rest.lastIndexOf('/');
    if (slash < 0 || !rest.substring(slash + 1).equals(hex.length() >= 2 ? hex.substring(0, 2) : "")) {
      return null;
    }
    rest = rest.substring(0, slash);
    if (!rest.endsWith("/sha256") && !rest.equals("sha256")) {
      return null;
    }
    try {
      return Digest.parse("sha256:" + hex);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }
}
