package io.pullmesh.fetch;

import io.pullmesh.core.ByteRange;
import io.pullmesh.core.Digest;
import io.pullmesh.core.RepositoryName;
import io.vertx.core.Future;
import java.net.URI;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * Stands for one blob at registry.ollama.ai and its CDN in a download's unit tests, without HTTP. Each
 * {@link #locate} hands out a new presigned URL ({@code ?sig=N}), as the registry's 307 to the CDN does; what a ranged
 * request at a URL gets is the test's {@link #ranges} rule (by default the exact bytes). The failures it can stage are
 * those {@link UpstreamRegistry} reports for the real services: an expired signature (URL_REFUSED: the CDN's 403 to an expired presigned
 * URL), a 200 to a ranged GET (RANGE_IGNORED), and bodies that stall or carry wrong bytes.
 */
final class InMemoryUpstream implements BlobUpstream {
  /** One ranged request as the CDN saw it. */
  record Request(URI url, ByteRange range) {}

  final byte[] blob;
  final Digest digest;
  final AtomicInteger locates = new AtomicInteger();
  final AtomicInteger wholes = new AtomicInteger();
  final List<Request> requests = new CopyOnWriteArrayList<>();
  /** The answer to a ranged request, given the request and how many came before it. */
  volatile Function<Request, Future<Body>> ranges = r -> Future.succeededFuture(new InMemoryBody(slice(r.range())));
  volatile boolean rangeSupported = true;

  InMemoryUpstream(byte[] blob) {
    this.blob = blob;
    this.digest = Digest.of(blob);
  }

  byte[] slice(ByteRange r) {
    return java.util.Arrays.copyOfRange(blob, (int) r.first(), (int) r.last() + 1);
  }

  @Override
  public Future<BlobLocation> locate() {
    int n = locates.incrementAndGet();
    return Future.succeededFuture(new BlobLocation(RepositoryName.parse("library/t"), digest,
        URI.create("https://cdn.test/blob?sig=" + n), blob.length, rangeSupported, null));
  }

  @Override
  public RangeSource ranges(BlobLocation location) {
    return range -> {
      Request r = new Request(location.url(), range);
      requests.add(r);
      return ranges.apply(r);
    };
  }

  @Override
  public Future<Body> whole(BlobLocation location) {
    wholes.incrementAndGet();
    return Future.succeededFuture(new InMemoryBody(blob));
  }

  @Override
  public String label() {
    return "test";
  }

  @Override
  public String host(BlobLocation location) {
    return location == null ? "registry.test" : location.url().getHost();
  }

  @Override
  public BlobLocation sizeOnly(long size) {
    return new BlobLocation(RepositoryName.parse("library/t"), digest, URI.create("https://registry.test"), size, true, null);
  }
}
