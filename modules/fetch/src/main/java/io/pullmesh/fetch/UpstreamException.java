package io.pullmesh.fetch;

import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;

/**
 * A failed exchange with the upstream registry or its CDN, classified by what the fetcher should do next.
 */
public final class UpstreamException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** What the failure means for the caller. */
  public enum Kind {
    /** A 5xx, 429, reset connection or short body: try again after a backoff. */
    RETRYABLE,
    /** No byte arrived within the stall timeout (or connect timed out): try again, counted as a stall. */
    TIMEOUT,
    /** The CDN refused a presigned URL (expired, bad signature): resolve the blob URL again. */
    URL_REFUSED,
    /** A ranged request got the whole body: the upstream does not do ranges. */
    RANGE_IGNORED,
    /** The upstream says the blob or manifest does not exist. */
    NOT_FOUND,
    /** The upstream refused our credentials, or we have none and it wants some. */
    DENIED,
    /** Anything retrying cannot fix: the answer contradicts what we know (size, range). */
    FATAL
  }

  private final Kind kind;
  private final int status;
  private final String words;

  public UpstreamException(Kind kind, int status, String message) {
    this(kind, status, message, null);
  }

  public UpstreamException(Kind kind, int status, String message, Throwable cause) {
    this(kind, status, message, null, cause);
  }

  /**
   * @param words what the upstream itself said in the body of its refusal (a registry error's message, a plain-text
   *     body), kept word for word for the client; null when it said nothing usable
   */
  public UpstreamException(Kind kind, int status, String message, String words, Throwable cause) {
    super(message, cause);
    this.kind = kind;
    this.status = status;
    this.words = words;
  }

  /** The upstream's own words for this refusal, or null. */
  public String words() {
    return words;
  }

  public Kind kind() {
    return kind;
  }

  /** The HTTP status upstream answered, or 0 when there was no answer. */
  public int status() {
    return status;
  }

  public boolean isRetryable() {
    return kind == Kind.RETRYABLE || kind == Kind.TIMEOUT;
  }

  /**
   * The registry error a client should see for this failure. A refusal the upstream explained in words (403, 404, 412,
   * 429) reaches the client with the upstream's status and those words as the message, unchanged: they are what tells
   * the user what to do ("requires a newer version of Ollama", "pass a HF_TOKEN"). A 401 never does: pullmesh answers
   * upstream challenges itself, and Ollama answers a 401 by asking the mirror for a token (ollama #13738).
   */
  public RegistryException toRegistryException(ErrorCode notFoundCode) {
    if (words != null) {
      ErrorCode code = switch (status) {
        case 403 -> ErrorCode.DENIED;
        case 404 -> notFoundCode;
        case 412 -> ErrorCode.PRECONDITION_FAILED;
        case 429 -> ErrorCode.TOOMANYREQUESTS;
        default -> null;
      };
      if (code != null) {
        return new RegistryException(code, status, words, this);
      }
    }
    return switch (kind) {
      case NOT_FOUND -> new RegistryException(notFoundCode, getMessage(), this);
      case TIMEOUT -> new RegistryException(ErrorCode.UPSTREAM_TIMEOUT, getMessage(), this);
      case DENIED -> new RegistryException(ErrorCode.DENIED, getMessage(), this);
      default -> status == 429
          ? new RegistryException(ErrorCode.TOOMANYREQUESTS, getMessage(), this)
          : new RegistryException(ErrorCode.UPSTREAM_ERROR, getMessage(), this);
    };
  }

  /**
   * The registry error a client should see for any failure of work on {@code what}: a {@link RegistryException} as it
   * is, anything else {@linkplain #classify classified} and {@linkplain #toRegistryException translated}.
   */
  public static RegistryException toRegistryError(Throwable t, String what, ErrorCode notFoundCode) {
    if (t instanceof RegistryException r) {
      return r;
    }
    return classify(t, what).toRegistryException(notFoundCode);
  }

  /** Classifies any throwable from a Vert.x exchange. */
  public static UpstreamException classify(Throwable t, String what) {
    if (t instanceof UpstreamException u) {
      return u;
    }
    if (isTimeout(t)) {
      return new UpstreamException(Kind.TIMEOUT, 0, what + ": upstream timed out (" + t.getMessage() + ")", t);
    }
    String reason = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    return new UpstreamException(Kind.RETRYABLE, 0, what + ": " + reason, t);
  }

  static boolean isTimeout(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof java.util.concurrent.TimeoutException || c instanceof java.net.SocketTimeoutException
          || c.getClass().getSimpleName().contains("Timeout")
          || (c instanceof io.netty.channel.ConnectTimeoutException)) {
        return true;
      }
    }
    return false;
  }
}
