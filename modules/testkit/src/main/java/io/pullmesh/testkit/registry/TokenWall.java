package io.pullmesh.testkit.registry;

import io.vertx.core.http.HttpServerRequest;

/**
 * Hugging Face's rate limit for anonymous clients: without {@code Authorization: Bearer <token>} a request to the
 * registry or the hub answers <b>429</b> with {@code {"error":"We had to rate limit your IP (<ip>). To continue
 * using our service, create a HF account or login to your existing account, and make sure you pass a HF_TOKEN if
 * you're using the API."}} (ollama/ollama #13297: on {@code hf.co/v2/.../manifests/...}, printed by Ollama as
 * {@code pull model manifest: 429: {...}}; docker/model-runner #441: the same body on
 * {@code huggingface.co/v2/.../blobs/...}). It is never a 401, so no {@code WWW-Authenticate} challenge: Ollama
 * cannot send a HF token (its hf.co auth is an SSH key registered on the account), so it simply fails.
 *
 * <p>Any Authorization that is not exactly this bearer token counts as none here. (Real Hugging Face answers a
 * token it does not accept with 401 "Invalid credentials in Authorization header", ollama/ollama #10500; that is
 * not reproduced.) Off while the token is null. Thread-safe.
 */
final class TokenWall {
  private volatile String token;

  TokenWall(String token) {
    set(token);
  }

  void set(String token) {
    if (token != null && token.isBlank()) {
      throw new IllegalArgumentException("token must not be blank (null turns the wall off)");
    }
    this.token = token;
  }

  String token() {
    return token;
  }

  /** Lets the request through (true) or answers it with the 429 (false). */
  boolean admit(HttpServerRequest request) {
    String required = token;
    if (required == null || ("Bearer " + required).equals(request.getHeader("Authorization"))) {
      return true;
    }
    Replies.hubError(request, 429, message(request.remoteAddress() == null ? "unknown" : request.remoteAddress().host()));
    return false;
  }

  static String message(String ip) {
    return "We had to rate limit your IP (" + ip + "). To continue using our service, create a HF account or login "
        + "to your existing account, and make sure you pass a HF_TOKEN if you're using the API.";
  }
}
