package io.pullmesh.testkit.registry;

import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.Reference;
import io.pullmesh.core.RegistryRoute;
import io.pullmesh.core.RepositoryName;
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
 * endpoint, quirks included (see the {@link FakeRegistry} javadoc for the list), or for hf.co or modelscope.cn's
 * (see {@link RegistryFlavour}). Order of checks: {@linkplain TokenWall token wall}, method, bearer auth, lookup,
 * {@linkplain VersionGate version gate}.
 */
final class RegistryHandler implements Handler<HttpServerRequest> {
  /** hf.co's answer for a quant tag its repository lacks, text as Ollama prints it (ollama/ollama #7268). */
  static final String UNKNOWN_QUANT =
      "The specified tag is not a valid quantization scheme. Please use another tag or \"latest\"";

  private final FakeRegistry registry;
  private final ModelCatalog catalog;
  private final TrafficStats stats;
  private final TokenAuthority tokens;
  private final FaultPlan faults;
  private final BlobSender sender;
  private final Clock clock;

  RegistryHandler(FakeRegistry registry, ModelCatalog catalog, TrafficStats stats,
      TokenAuthority tokens, FaultPlan faults, BlobSender sender, Clock clock) {
    this.registry = registry;
    this.catalog = catalog;
    this.stats = stats;
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
      if (registry.tokenWall().admit(request)) {
        token(request);
      }
      return;
    }
    RegistryRoute route;
    try {
      route = RegistryRoute.parse(path);
    } catch (RegistryException e) {
      track(request, RequestKind.OTHER);
      if (registry.tokenWall().admit(request)) {
        Replies.registryError(request, e.status(), e.code(), e.getMessage());
      }
      return;
    }
    RequestKind kind = route instanceof RegistryRoute.Manifest ? RequestKind.MANIFEST
        : !(route instanceof RegistryRoute.Blob) ? RequestKind.OTHER
        : request.method() == HttpMethod.HEAD ? RequestKind.BLOB_HEAD : RequestKind.BLOB_GET;
    track(request, kind);
    if (!registry.tokenWall().admit(request)) {
      return;
    }
    if (route instanceof RegistryRoute.Manifest m) {
      manifest(request, m);
    } else if (route instanceof RegistryRoute.Blob b) {
      blob(request, b);
    } else {
      // null (outside /v2), Base (/v2/: registry.ollama.ai has no ping) and TagList: all 404.
      Replies.goNotFound(request);
    }
  }

  private void track(HttpServerRequest request, RequestKind kind) {
    RequestTracker.track(request, stats, clock, "registry", kind);
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
    if (!readOnly(request) || !authorized(request, catalog.key(route.name()))) {
      return;
    }
    Optional<FakeModel> model = catalog.model(route.name(), route.reference());
    if (model.isEmpty()) {
      if (registry.flavour() == RegistryFlavour.HUGGING_FACE && !route.reference().isDigest()
          && catalog.hasRepository(route.name())) {
        // hf.co on a quant the repository lacks (ollama/ollama #7268, huggingface/hub-docs #1476).
        Replies.plainText(request, 400, UNKNOWN_QUANT);
        return;
      }
      Replies.registryError(request, ErrorCode.MANIFEST_UNKNOWN, "manifest unknown");
      return;
    }
    String required = requiredVersion(route.name(), model.get());
    if (required != null && !VersionGate.admits(request.getHeader("User-Agent"), required)) {
      Replies.plainText(request, 412, registry.versionGate().refusalBody(required));
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

  /**
   * The newest minimum version any gate of this repository asks of {@code served}: a gate belongs to the manifest
   * its tag points at now, so it also covers that manifest by digest. Null when ungated.
   */
  private String requiredVersion(RepositoryName name, FakeModel served) {
    String required = null;
    for (VersionGate.Gate g : registry.versionGate().gatesOf(name)) {
      Optional<FakeModel> gated = catalog.model(RepositoryName.parse(g.repository()), Reference.parse(g.tag()));
      if (gated.isPresent() && gated.get() == served
          && (required == null || VersionGate.compare(g.minimum(), required) > 0)) {
        required = g.minimum();
      }
    }
    return required;
  }

  private void blob(HttpServerRequest request, RegistryRoute.Blob route) {
    if (!readOnly(request) || !authorized(request, catalog.key(route.name()))) {
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
    String location = switch (registry.flavour()) {
      case OLLAMA -> registry.signedCdnUrl(route.digest());
      case HUGGING_FACE -> registry.signedHubUrl(route.name().spelled(), route.digest());
      case MODEL_SCOPE -> registry.hubDownloadUrl(route.name().spelled(), route.digest());
    };
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
