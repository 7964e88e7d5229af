package io.pullmesh.proxy;

import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.ArrayList;
import java.util.List;

/**
 * One request and its response, with callbacks run exactly once when the exchange is over: the response ended,
 * the client closed the connection first, or (for sendfile) {@link #finish()} was called. A Vert.x response has a single end and a single close handler;
 * this owns both, so metrics, leases and body writers can each register what they need. Confined to the
 * request's event loop.
 */
final class Exchange {
  final HttpServerRequest request;
  final HttpServerResponse response;
  private final List<Runnable> onDone = new ArrayList<>(3);
  /**
   * Whether the client reached this as another host through the forward proxy (HTTPS_PROXY), rather than by this
   * node's own name: such requests are answered as that host would (no --public-url redirect, URLs keep its name).
   */
  final boolean intercepted;
  /** The client's address: the connection's peer, or for an intercepted request the peer of its CONNECT. */
  final String client;
  /** Whether it arrived on the transfer port, where x/transfer clients are sent for blob bodies (never redirected again). */
  final boolean transferPort;
  /** The client's User-Agent when it is Ollama's, else null: see {@link #upstreamAgent()}. Read once, here. */
  private final String ollamaAgent;
  private boolean over;

  Exchange(HttpServerRequest request) {
    this(request, false, peer(request), false);
  }

  Exchange(HttpServerRequest request, boolean intercepted, String client) {
    this(request, intercepted, client, false);
  }

  static Exchange onTransferPort(HttpServerRequest request) {
    return new Exchange(request, false, peer(request), true);
  }

  private Exchange(HttpServerRequest request, boolean intercepted, String client, boolean transferPort) {
    this.request = request;
    this.intercepted = intercepted;
    this.client = client;
    this.transferPort = transferPort;
    this.response = request.response();
    String ua = request.getHeader("User-Agent");
    this.ollamaAgent = io.pullmesh.core.OllamaVersion.fromUserAgent(ua).isPresent() ? ua : null;
    response.endHandler(v -> finish());
    response.closeHandler(v -> finish());
  }

  /**
   * The User-Agent to send upstream for this client: its own when it is Ollama's ({@code ollama/<version> ...}: the
   * registry decides from that version whether this client may pull a model, ollama #11457), else null, meaning the
   * configured {@code --user-agent}. curl, skopeo or a Go client carry no Ollama version: asking under their name would
   * get them refused every version-gated model, which is not what a user of a mirror asked for.
   */
  String upstreamAgent() {
    return ollamaAgent;
  }

  /**
   * Whether the client is Ollama's x/transfer downloader (tensor models): its User-Agent is {@code ollama-transfer/<v>}
   * (x/transfer/transfer.go:108, used because server/images.go passes none), on the URL-resolution GET and the blob GET.
   */
  boolean isXTransfer() {
    String ua = request.getHeader("User-Agent");
    return ua != null && ua.regionMatches(true, 0, "ollama-transfer/", 0, "ollama-transfer/".length());
  }

  /**
   * Whether this is server/download.go's URL-resolution GET: Ollama's own User-Agent ({@code ollama/<version>}, the
   * registry calls of server/images.go; its parts say {@code Go-http-client/1.1}) on a blob GET without Range. Ollama
   * reads only the status and Location of that response and closes it (download.go:242-270).
   */
  boolean isOllamaResolution() {
    return request.getHeader("Range") == null && upstreamAgent() != null;
  }

  static String peer(HttpServerRequest req) {
    return req.remoteAddress() == null ? "?" : String.valueOf(req.remoteAddress().hostAddress());
  }

  /** Runs {@code r} when the exchange is over (at once if it already is). */
  void onDone(Runnable r) {
    if (over) {
      r.run();
    } else {
      onDone.add(r);
    }
  }

  /**
   * Ends the exchange now. For paths Vert.x does not report: when a client abandons a {@code sendFile} response,
   * Vert.x 5 calls neither the end nor the close handler; only the sendFile future fails.
   */
  void finish() {
    if (over) {
      return;
    }
    over = true;
    for (Runnable r : onDone) {
      r.run();
    }
    onDone.clear();
  }
}
