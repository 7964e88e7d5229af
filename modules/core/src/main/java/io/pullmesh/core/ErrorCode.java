package io.pullmesh.core;

/**
 * Registry error codes as clients see them in {@code {"errors":[{"code":...}]}}, each with its usual HTTP
 * status. The first group is the OCI distribution spec's; the rest are pullmesh's own, for failures a mirror
 * has that a registry does not (its upstream is down, slow, or sent bytes that do not match their digest).
 */
public enum ErrorCode {
  BLOB_UNKNOWN(404, "blob unknown to registry"),
  DIGEST_INVALID(400, "provided digest did not match uploaded content"),
  MANIFEST_UNKNOWN(404, "manifest unknown"),
  MANIFEST_INVALID(400, "manifest invalid"),
  NAME_INVALID(400, "invalid repository name"),
  NAME_UNKNOWN(404, "repository name not known to registry"),
  TAG_INVALID(400, "invalid tag"),
  UNAUTHORIZED(401, "authentication required"),
  DENIED(403, "requested access to the resource is denied"),
  UNSUPPORTED(405, "the operation is unsupported"),
  TOOMANYREQUESTS(429, "too many requests"),
  /**
   * The upstream refused this client (registry.ollama.ai's 412 to an Ollama older than the model needs); the message
   * is the registry's own words.
   */
  PRECONDITION_FAILED(412, "the registry refused this client"),

  /** The Range header does not parse or no range overlaps the blob. */
  RANGE_NOT_SATISFIABLE(416, "requested range not satisfiable"),
  /** No such path on this server. */
  NOT_FOUND(404, "not found"),
  /** The upstream registry or CDN failed, refused us, or answered something we cannot use. */
  UPSTREAM_ERROR(502, "upstream registry error"),
  /** The upstream did not answer in time. */
  UPSTREAM_TIMEOUT(504, "upstream registry timed out"),
  /** The bytes the upstream sent do not hash to the digest that names them; nothing was committed. */
  BLOB_CORRUPT(502, "upstream blob failed digest verification"),
  /** The cache cannot hold the blob. */
  INSUFFICIENT_STORAGE(507, "insufficient storage in cache"),
  /** The request came back to the node that sent it (RFC 5842's 508): an upstream redirecting to pullmesh itself. */
  LOOP_DETECTED(508, "request loop: it came back to this node"),
  /** An unexpected failure inside pullmesh. */
  INTERNAL_ERROR(500, "internal error");

  private final int status;
  private final String message;

  ErrorCode(int status, String message) {
    this.status = status;
    this.message = message;
  }

  public int status() {
    return status;
  }

  /** The generic message the spec gives for this code. */
  public String message() {
    return message;
  }
}
