package io.pullmesh.proxy;

import io.pullmesh.core.Digest;
import io.pullmesh.core.RegistryRoute;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerResponse;
import java.util.HashMap;
import java.util.Map;

/**
 * {@code GET|HEAD /v2/<name>/manifests/<reference>}: a manifest answered as a registry answers it (its bytes unchanged,
 * their type, digest and length; {@code X-Pullmesh-Cache} says where it came from, and a {@code Warning} when it is a
 * stale copy: served because upstream could not be reached, or while it is revalidated in the background). On the way it tells {@link BlobOrigins} which repository
 * the manifest's blobs belong to, and {@link PullLog} which blobs the client is about to pull. Not for fetching, caching
 * or revalidating manifests ({@link ManifestService} does), nor for manifests served to peers ({@link PeerApi}).
 */
final class ManifestHandler {
  private final ManifestService manifests;
  private final BlobOrigins origins;
  private final PullLog pulls;

  ManifestHandler(ManifestService manifests, BlobOrigins origins, PullLog pulls) {
    this.manifests = manifests;
    this.origins = origins;
    this.pulls = pulls;
  }

  void handle(Exchange ex, RegistryRoute.Manifest m) {
    HttpServerResponse resp = ex.response;
    boolean head = ex.request.method() == HttpMethod.HEAD;
    manifests.get(m.name(), m.reference(), ex.upstreamAgent()).onComplete(ar -> {
      if (ar.failed()) {
        Responses.error(resp, ar.cause(), head);
        return;
      }
      ManifestService.Result r = ar.result();
      origins.served(m.name(), r.manifest());
      if (!head) {
        Map<Digest, Long> sizes = new HashMap<>();
        for (ManifestService.Descriptor d : ManifestService.descriptors(r.manifest().bytes())) {
          sizes.put(d.digest(), d.size());
        }
        String sep = m.reference().isDigest() ? "@" : ":";
        pulls.manifestServed(ex.client, m.name() + sep + m.reference(), sizes);
      }
      resp.putHeader("Content-Type", r.manifest().contentType())
          .putHeader("Content-Length", Integer.toString(r.manifest().bytes().length))
          .putHeader("Docker-Content-Digest", r.manifest().digest().toString())
          .putHeader("ETag", "\"" + r.manifest().digest() + "\"")
          .putHeader("X-Pullmesh-Cache", r.cache());
      if (r.warning() != null) {
        resp.putHeader("Warning", "110 pullmesh \"stale: upstream unavailable\"");
      } else if (r.cache().equals("revalidating")) {
        resp.putHeader("Warning", "110 pullmesh \"stale: revalidating\"");
      }
      if (head) {
        resp.end();
      } else {
        resp.end(Buffer.buffer(r.manifest().bytes()));
      }
    });
  }
}
