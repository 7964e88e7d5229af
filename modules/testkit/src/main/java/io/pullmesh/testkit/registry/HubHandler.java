package io.pullmesh.testkit.registry;

import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RegistryRoute;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.testkit.fault.FaultPlan;
import io.pullmesh.testkit.model.FakeBlob;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import java.time.Clock;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The request handler of the hub, the third fake server: the host a Hugging Face or ModelScope registry redirects
 * blob downloads to. Per {@link RegistryFlavour}:
 * <ul>
 *   <li>{@code HUGGING_FACE}, standing for huggingface.co: {@code GET|HEAD /v2/<user>/<repo>/blobs/<digest>
 *       ?__sign=<JWT>} (ollama/ollama #8360, #11654) checks the token ({@link HubSigner}, by the injected clock),
 *       then answers <b>302</b> to the CDN's presigned URL, as huggingface.co answers 302 to
 *       {@code cas-bridge.xethub.hf.co} (Xet) or {@code cdn-lfs*.hf.co} (LFS) (protocol doc; xet-core spec
 *       "file_id": the resolve URL "will return a 302 redirect"). The repository must be spelled as signed
 *       (capitals count). A missing, forged, foreign or expired token gets <b>403</b> {@code {"error":...}}:
 *       <b>a choice</b>, as no source found says what Hugging Face answers for an expired {@code __sign}.
 *   <li>{@code MODEL_SCOPE}, standing for ollama.modelscope.cn: {@code GET|HEAD
 *       /v2/<user>/<model>/blobs/download/<digest>} (modelscope/modelscope #1219) serves the blob itself with exact
 *       Range semantics ({@link BlobSender}), counted under {@link TrafficStats.Origin#HUB}, faults from
 *       {@link FakeRegistry#hubFaults()}.
 * </ul>
 * Every request first passes the {@linkplain TokenWall token wall}. Anything else: Go's 404; other methods: 405.
 */
final class HubHandler implements Handler<HttpServerRequest> {
  private static final Pattern DOWNLOAD = Pattern.compile("^/v2/(.+)/blobs/download/([^/]+)$");

  private final FakeRegistry registry;
  private final ModelCatalog catalog;
  private final TrafficStats stats;
  private final HubSigner hubSigner;
  private final FaultPlan faults;
  private final BlobSender sender;
  private final Clock clock;

  HubHandler(FakeRegistry registry, ModelCatalog catalog, TrafficStats stats, HubSigner hubSigner,
      FaultPlan faults, BlobSender sender, Clock clock) {
    this.registry = registry;
    this.catalog = catalog;
    this.stats = stats;
    this.hubSigner = hubSigner;
    this.faults = faults;
    this.sender = sender;
    this.clock = clock;
  }

  @Override
  public void handle(HttpServerRequest request) {
    request.response().exceptionHandler(e -> { });
    HttpMethod method = request.method();
    boolean head = method == HttpMethod.HEAD;
    boolean readOnly = head || method == HttpMethod.GET;
    RegistryRoute.Blob route = route(request.path());
    RequestKind kind = route == null || !readOnly ? RequestKind.OTHER : head ? RequestKind.HUB_HEAD : RequestKind.HUB_GET;
    RequestTracker.track(request, stats, clock, "hub", kind);
    if (!registry.tokenWall().admit(request)) {
      return;
    }
    if (route == null) {
      Replies.goNotFound(request);
    } else if (!readOnly) {
      Replies.hubError(request, 405, "Method not allowed");
    } else if (registry.flavour() == RegistryFlavour.HUGGING_FACE) {
      signedBlob(request, route);
    } else {
      download(request, route);
    }
  }

  /** The blob a path names in this flavour, or null for any other path. */
  private RegistryRoute.Blob route(String path) {
    try {
      if (registry.flavour() == RegistryFlavour.MODEL_SCOPE) {
        Matcher m = DOWNLOAD.matcher(path);
        return m.matches() && Digest.isValid(m.group(2))
            ? new RegistryRoute.Blob(RepositoryName.parse(m.group(1)), Digest.parse(m.group(2)))
            : null;
      }
      return RegistryRoute.parse(path) instanceof RegistryRoute.Blob b ? b : null;
    } catch (RegistryException | IllegalArgumentException e) {
      return null;
    }
  }

  private void signedBlob(HttpServerRequest request, RegistryRoute.Blob route) {
    switch (hubSigner.verify(request.getParam("__sign"), route.name().spelled())) {
      case MISSING -> {
        Replies.hubError(request, 403, "Missing or malformed __sign parameter");
        return;
      }
      case BAD_SIGNATURE -> {
        Replies.hubError(request, 403, "Invalid __sign for this repository");
        return;
      }
      case EXPIRED -> {
        Replies.hubError(request, 403, "Expired __sign");
        return;
      }
      case VALID -> {
        // go on
      }
    }
    if (catalog.blob(route.name(), route.digest()).isEmpty()) {
      Replies.registryError(request, ErrorCode.BLOB_UNKNOWN, "blob unknown to registry");
      return;
    }
    request.response().setStatusCode(302)
        .putHeader("Location", registry.signedCdnUrl(route.digest()))
        .putHeader("Content-Length", "0")
        .end();
  }

  private void download(HttpServerRequest request, RegistryRoute.Blob route) {
    Optional<FakeBlob> blob = catalog.blob(route.name(), route.digest());
    if (blob.isEmpty()) {
      Replies.registryError(request, ErrorCode.BLOB_UNKNOWN, "blob unknown to registry");
      return;
    }
    long[] span = Replies.servedSpan(request.getHeader("Range"), blob.get().size());
    sender.send(request, blob.get(), faults.take(request.method() == HttpMethod.HEAD, route.digest(), span[0], span[1]));
  }
}
