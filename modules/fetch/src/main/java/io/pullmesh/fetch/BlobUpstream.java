package io.pullmesh.fetch;

import io.pullmesh.core.Digest;
import io.pullmesh.core.RepositoryName;
import io.vertx.core.Future;

/**
 * One blob at its upstream, as its download needs it: find it (size, CDN URL), open ranges at a location, or the whole
 * body for an upstream that ignores Range. Implemented over {@link UpstreamRegistry}; a test implements it in memory.
 * Not for retries or relocation decisions ({@link RetryPolicy}).
 */
interface BlobUpstream {
  /** Finds the blob upstream; fails with an {@link UpstreamException}. */
  Future<BlobLocation> locate();

  /** Opens ranges at {@code location}. */
  RangeSource ranges(BlobLocation location);

  /** Opens the whole body at {@code location} (a 200), for an upstream that ignores Range. */
  Future<Body> whole(BlobLocation location);

  /** The upstream's label in the metrics. */
  String label();

  /** The host serving the bytes: the location's (the CDN after the redirect), or the registry's before one is known. */
  String host(BlobLocation location);

  /** A stand-in location that carries only the size, for a download that starts from peers. */
  BlobLocation sizeOnly(long size);

  /** {@code digest} in {@code remote} at {@code registry}, asked for with {@code userAgent} (null: the configured one). */
  static BlobUpstream of(UpstreamRegistry registry, RepositoryName remote, Digest digest, String userAgent) {
    return new BlobUpstream() {
      @Override
      public Future<BlobLocation> locate() {
        return registry.locate(remote, digest, userAgent);
      }

      @Override
      public RangeSource ranges(BlobLocation location) {
        return range -> registry.openRange(location, range).map(Body::of);
      }

      @Override
      public Future<Body> whole(BlobLocation location) {
        return registry.openWhole(location).map(Body::of);
      }

      @Override
      public String label() {
        return registry.label();
      }

      @Override
      public String host(BlobLocation location) {
        return location == null ? registry.base().getHost() : location.url().getHost();
      }

      @Override
      public BlobLocation sizeOnly(long size) {
        return new BlobLocation(remote, digest, registry.base(), size, true, userAgent);
      }
    };
  }
}
