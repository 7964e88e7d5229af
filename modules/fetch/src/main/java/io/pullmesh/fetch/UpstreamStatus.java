package io.pullmesh.fetch;

/**
 * What an upstream's answer that is not the one asked for means to the fetcher: a status code, where it came from and
 * the upstream's own words in, an {@link UpstreamException} of the {@link UpstreamException.Kind} that says what to do
 * next out. Pure. Not for reading the words (that is {@link UpstreamWords}), nor for the answers that succeed.
 */
final class UpstreamStatus {
  private UpstreamStatus() {}

  /**
   * A refusal of a manifest or of the registry's own blob URL: 404 not found, 401/403 denied, 508 a loop back to this
   * node, 429 and 5xx worth a retry, anything else fatal.
   *
   * @param what the request, for the message ("manifest library/x:1 at registry.ollama.ai")
   * @param words the upstream's own words for it, or null
   */
  static UpstreamException of(int status, String what, String words) {
    String said = words == null ? "" : ": " + words;
    if (status == 404) {
      return new UpstreamException(UpstreamException.Kind.NOT_FOUND, status, what + ": not found upstream" + said, words, null);
    }
    if (status == 401 || status == 403) {
      return new UpstreamException(UpstreamException.Kind.DENIED, status, what + ": upstream refused access (" + status + ")" + said, words, null);
    }
    if (status == 508) {
      return new UpstreamException(UpstreamException.Kind.FATAL, status, what + ": the request came back to this node (a redirect to pullmesh"
          + " itself, or two nodes each other's upstream)" + said, words, null);
    }
    if (status == 429 || status >= 500) {
      return new UpstreamException(UpstreamException.Kind.RETRYABLE, status, what + ": upstream answered " + status + said, words, null);
    }
    return new UpstreamException(UpstreamException.Kind.FATAL, status, what + ": upstream answered " + status + said, words, null);
  }

  /**
   * A refusal of a piece or stream request. A refusal (400, 401, 403, 404, 410) of a URL the registry redirected to (a
   * presigned CDN URL, Hugging Face's {@code __sign}ed one) means it expired: resolve the blob again. A 416 means the
   * blob is not the size it was located at. Anything else is read as {@link #of}.
   *
   * @param redirected whether the refused URL is one the registry redirected to, not its own blob URL
   * @param host the refused URL's host
   * @param size the size the blob was located at
   */
  static UpstreamException ofPiece(int status, boolean redirected, String host, long size, String what) {
    if (redirected && (status == 400 || status == 401 || status == 403 || status == 404 || status == 410)) {
      return new UpstreamException(UpstreamException.Kind.URL_REFUSED, status, what + ": " + host
          + " refused the blob URL (" + status + "), it has probably expired");
    }
    if (status == 416) {
      return new UpstreamException(UpstreamException.Kind.FATAL, status, what + ": upstream says the range is past the end; the blob is not " + size + " bytes");
    }
    return of(status, what + " at " + host, null);
  }
}
