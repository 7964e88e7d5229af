package io.pullmesh.testkit.registry;

import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RegistryRoute;
import io.pullmesh.testkit.fault.AppliedFaults;
import io.pullmesh.testkit.fault.FaultPlan;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Optional;

/**
 * The request handler of the fake registry: stands for registry.ollama.ai's {@code /v2} API and token
 * endpoint, quirks included (see the {@link FakeRegistry} javadoc for the list).
 */
final class RegistryHandler implements Handler<HttpServerRequest> {
  private final FakeRegistry registry;
  private final ModelCatalog catalog;
  private final TrafficStats stats;
  private final UrlSigner signer;
  private final TokenAuthority tokens;
  private final FaultPlan faults;
  private final BlobSender sender;
  private final Clock clock;

  RegistryHandler(FakeRegistry registry, ModelCatalog catalog, TrafficStats stats, UrlSigner signer,
      TokenAuthority tokens, FaultPlan faults, BlobSender sender, Clock clock) {
    this.registry = registry;
    this.catalog = catalog;
    this.stats = stats;
    this.signer = signer;
    this.tokens = tokens;
    this.faults = faults;
    this.sender = sender;
    this.clock = clock;
  }

  @Override
  public void handle(HttpServerRequest request) {
    request.response().exceptionHandler(e -> { });
    String path = request.path();
    if (path.equals("/token")) {
      track(request, RequestKind.TOKEN);
      token(request);
      return;
    }
    RegistryRoute route;
    try {
      route = RegistryRoute.parse(path);
    } catch (RegistryException e) {
      track(request, RequestKind.OTHER);
      Replies.registryError(request, e.status(), e.code(), e.getMessage());
      return;
    }
    if (route instanceof RegistryRoute.Manifest m) {
      track(request, RequestKind.MANIFEST);
      manifest(request, m);
    } else if (route instanceof RegistryRoute.Blob b) {
      track(request, request.method() == HttpMethod.HEAD ? RequestKind.BLOB_HEAD : RequestKind.BLOB_GET);
      blob(request, b);
    } else {
      // null (outside /v2), Base (/v2/: registry.ollama.ai has no ping) and TagList: all 404.
      track(request, RequestKind.OTHER);
      Replies.goNotFound(request);
    }
  }

  private void track(HttpServerRequest request, RequestKind kind) {
    stats.count(kind);
    HttpServerResponse response = request.response();
    String method = request.method().name();
    String host = request.getHeader("Host");
    String uri = request.uri();
    String range = request.getHeader("Range");
    boolean auth = request.getHeader("Authorization") != null;
    response.headersEndHandler(v -> stats.log(new RequestRecord(
        clock.instant(), "registry", kind, method, host, uri, range, auth, response.getStatusCode())));
  }

  private boolean readOnly(HttpServerRequest request) {
    HttpMethod m = request.method();
    if (m == HttpMethod.GET || m == HttpMethod.HEAD) {
      return true;
    }
    Replies.registryError(request, ErrorCode.UNSUPPORTED, "method " + m + " is not supported here");
    return false;
  }

  /** With auth on, answers 401 with a Bearer challenge unless the request carries a valid token. */
  private boolean authorized(HttpServerRequest request, String repository) {
    if (!registry.authRequired() || tokens.bearerAccepted(request.getHeader("Authorization"))) {
      return true;
    }
    request.response().putHeader("WWW-Authenticate", "Bearer realm=\"" + registry.registryUrl() + "/token\",service=\""
        + TokenAuthority.SERVICE + "\",scope=\"repository:" + repository + ":pull\"");
    Replies.registryError(request, ErrorCode.UNAUTHORIZED, "authentication required");
    return false;
  }

  private void manifest(HttpServerRequest request, RegistryRoute.Manifest route) {
    if (!readOnly(request) || !authorized(request, route.name().value())) {
      return;
    }
    Optional<FakeModel> model = catalog.model(route.name(), route.reference());
    if (model.isEmpty()) {
      Replies.registryError(request, ErrorCode.MANIFEST_UNKNOWN, "manifest unknown");
      return;
    }
    // registry.ollama.ai: text/plain, chunked, no Content-Length.
    HttpServerResponse response = request.response().setStatusCode(200)
        .putHeader("Content-Type", "text/plain; charset=utf-8")
        .setChunked(true);
    if (request.method() == HttpMethod.HEAD) {
      response.end();
    } else {
      response.write(Buffer.buffer(model.get().manifestBytes()));
      response.end();
    }
  }

  private void blob(HttpServerRequest request, RegistryRoute.Blob route) {
    if (!readOnly(request) || !authorized(request, route.name().value())) {
      return;
    }
    Optional<FakeBlob> blob = catalog.blob(route.name(), route.digest());
    if (blob.isEmpty()) {
      Replies.registryError(request, ErrorCode.BLOB_UNKNOWN, "blob unknown to registry");
      return;
    }
    boolean head = request.method() == HttpMethod.HEAD;
    if (registry.directMode()) {
      long[] span = Replies.servedSpan(request.getHeader("Range"), blob.get().size());
      sender.send(request, blob.get(), faults.take(head, route.digest(), span[0], span[1]));
    } else if (!head || registry.headRedirects()) {
      redirect(request, route);
    } else {
      sender.send(request, blob.get(), AppliedFaults.NONE);
    }
  }

  private void redirect(HttpServerRequest request, RegistryRoute.Blob route) {
    String location = registry.cdnUrl() + signer.signedPathAndQuery(route.digest());
    HttpServerResponse response = request.response().setStatusCode(registry.redirectStatus())
        .putHeader("Location", location);
    if (request.method() == HttpMethod.HEAD) {
      response.putHeader("Content-Length", "0").end();
      return;
    }
    String body = "<a href=\"" + location.replace("&", "&amp;") + "\">Temporary Redirect</a>.\n\n";
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    response.putHeader("Content-Type", "text/html; charset=utf-8")
        .putHeader("Content-Length", Integer.toString(bytes.length))
        .end(Buffer.buffer(bytes));
  }

  private void token(HttpServerRequest request) {
    if (request.method() != HttpMethod.GET) {
      Replies.registryError(request, ErrorCode.UNSUPPORTED, "use GET /token");
      return;
    }
    if (!tokens.credentialsAccepted(request.getHeader("Authorization"))) {
      request.response().putHeader("WWW-Authenticate", "Basic realm=\"" + TokenAuthority.SERVICE + "\"");
      Replies.registryError(request, ErrorCode.UNAUTHORIZED, "invalid username or password");
      return;
    }
    String token = tokens.issue();
    byte[] body = TokenAuthority.tokenJson(token, clock.instant()).getBytes(StandardCharsets.UTF_8);
    request.response().setStatusCode(200)
        .putHeader("Content-Type", "application/json; charset=utf-8")
        .putHeader("Content-Length", Integer.toString(body.length))
        .end(Buffer.buffer(body));
  }
}
