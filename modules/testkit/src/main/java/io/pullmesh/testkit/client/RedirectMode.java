package io.pullmesh.testkit.client;

/** How the direct-URL resolution treats the final response, which differs between Ollama versions. */
public enum RedirectMode {
  /**
   * Older Ollama builds: accept 307 or 200 and take the {@code Location} header either way; a 200 without one
   * fails with "http: no Location header in response" (Ollama #7244), a 302 is an "unexpected status code".
   */
  STRICT,
  /** Newer Ollama builds: accept 307 or 302 (take {@code Location}), or 200 (the blob URL itself is direct). */
  LENIENT
}
