package io.pullmesh.testkit.registry;

import io.pullmesh.core.Digest;
import io.pullmesh.testkit.fault.FaultPlan;
import io.pullmesh.testkit.model.FakeBlob;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The request handler of the fake CDN: stands for the Cloudflare R2 bucket registry.ollama.ai redirects blob
 * downloads to. Serves a blob only at its presigned URL (valid signature, not expired), refuses any request
 * that also carries an {@code Authorization} header (400, as S3 does: one auth mechanism per request), and
 * answers with exact Range semantics through {@link BlobSender}.
 */
final class CdnHandler implements Handler<HttpServerRequest> {
  private final ModelCatalog catalog;
  private final TrafficStats stats;
  private final UrlSigner signer;
  private final FaultPlan faults;
  private final BlobSender sender;
  private final Clock clock;

  CdnHandler(ModelCatalog catalog, TrafficStats stats, UrlSigner signer, FaultPlan faults, BlobSender sender,
      Clock clock) {
    this.catalog = catalog;
    this.stats = stats;
    this.signer = signer;
    this.faults = faults;
    this.sender = sender;
    this.clock = clock;
  }

  @Override
  public void handle(HttpServerRequest request) {
    request.response().exceptionHandler(e -> { });
    HttpMethod method = request.method();
    boolean head = method == HttpMethod.HEAD;
    RequestKind kind = head ? RequestKind.CDN_HEAD
        : method != HttpMethod.GET ? RequestKind.OTHER
        : request.getHeader("Range") != null ? RequestKind.CDN_GET_RANGED
        : RequestKind.CDN_GET_UNRANGED;
    RequestTracker.track(request, stats, clock, "cdn", kind);
    if (!head && method != HttpMethod.GET) {
      Replies.s3Error(request, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
      return;
    }
    if (request.getHeader("Authorization") != null) {
      Replies.s3Error(request, 400, "InvalidArgument",
          "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string "
              + "parameter or the Authorization header should be specified");
      return;
    }
    Map<String, String> params = new HashMap<>();
    request.params().forEach(e -> params.putIfAbsent(e.getKey(), e.getValue()));
    switch (signer.verify(request.path(), params)) {
      case MISSING -> {
        Replies.s3Error(request, 403, "AccessDenied", "Access Denied");
        return;
      }
      case BAD_SIGNATURE -> {
        Replies.s3Error(request, 403, "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.");
        return;
      }
      case EXPIRED -> {
        Replies.s3Error(request, 403, "AccessDenied", "Request has expired");
        return;
      }
      case VALID -> {
        // go on
      }
    }
    Digest digest = UrlSigner.digestOf(request.path());
    Optional<FakeBlob> blob = digest == null ? Optional.empty() : catalog.blob(digest);
    if (blob.isEmpty()) {
      Replies.s3Error(request, 404, "NoSuchKey", "The specified key does not exist.");
      return;
    }
    long[] span = Replies.servedSpan(request.getHeader("Range"), blob.get().size());
    sender.send(request, blob.get(), faults.take(head, digest, span[0], span[1]));
  }
}
