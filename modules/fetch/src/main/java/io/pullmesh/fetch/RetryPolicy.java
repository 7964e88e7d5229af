package io.pullmesh.fetch;

/**
 * What a download does after a lane fails, decided from the failure alone: retry the piece after a delay, re-resolve
 * the CDN URL, fall back to one whole-body stream, ask the peer again later (penalising it after a run of failures),
 * or fail the download. A pure decision in the style of OkHttp's {@code CacheStrategy}: it starts no timer and opens
 * nothing; the download carries the action out.
 */
final class RetryPolicy {
  /** Failed requests in a row after which a peer is penalised. */
  static final int MAX_PEER_ERRORS = 3;

  private final int maxTries;
  private final Backoff backoff;

  RetryPolicy(int maxTries, Backoff backoff) {
    this.maxTries = maxTries;
    this.backoff = backoff;
  }

  int maxTries() {
    return maxTries;
  }

  /** What to do next. */
  sealed interface Action {
    /**
     * Try again after {@code delayMs}.
     *
     * @param reason the retry's label in the metrics: timeout, status or error
     */
    record Retry(long delayMs, String reason) implements Action {}

    /** The CDN refused its URL: find the blob upstream again. */
    record Relocate() implements Action {}

    /** Upstream ignores Range: fetch the blob as one stream. */
    record Stream() implements Action {}

    /** Give up: the download fails with {@code cause}. */
    record Fail(UpstreamException cause) implements Action {}

    /**
     * Ask the peer again after a pause.
     *
     * @param counts the failure counts against the peer (waiting on the peer that streams from upstream does not)
     * @param penalise it failed too often in a row: no download of this node asks it for a while
     */
    record PeerLater(boolean counts, boolean penalise) implements Action {}
  }

  /** Whether a failure of this kind counts as a failed try of its piece (and is worth another). */
  static boolean countsAsTry(UpstreamException u) {
    return u.isRetryable();
  }

  /**
   * A lane to upstream failed with {@code u}.
   *
   * @param tries failed tries of the piece in a row, this one included (only read when {@link #countsAsTry})
   */
  Action afterUpstreamLane(UpstreamException u, int tries) {
    return switch (u.kind()) {
      case URL_REFUSED -> new Action.Relocate();
      case RANGE_IGNORED -> new Action.Stream();
      case NOT_FOUND, DENIED, FATAL -> new Action.Fail(u);
      default -> tries < maxTries ? new Action.Retry(backoff.delay(tries).toMillis(), reason(u)) : gaveUp(u);
    };
  }

  /**
   * The whole-body stream ended, short or failed, after {@code tries} streams.
   *
   * @param u why, or null when it ended early without an error
   */
  Action afterStream(UpstreamException u, int tries, String what) {
    UpstreamException e = u != null ? u
        : new UpstreamException(UpstreamException.Kind.RETRYABLE, 200, what + ": upstream stream ended early");
    if (!e.isRetryable() || tries >= maxTries) {
      return new Action.Fail(e);
    }
    return new Action.Retry(backoff.delay(tries).toMillis(), e.kind() == UpstreamException.Kind.TIMEOUT ? "timeout" : "error");
  }

  /** Locating the blob upstream failed for the {@code tries}th time. */
  Action afterLocate(UpstreamException u, int tries) {
    return u.isRetryable() && tries < maxTries ? new Action.Retry(backoff.delay(tries).toMillis(), reason(u)) : new Action.Fail(u);
  }

  /**
   * A lane to a peer failed. Waiting on the node that fetches the blob from upstream is not a failure of that peer (its
   * bytes come as fast as upstream sends them).
   *
   * @param errorsInRow the peer's failures in a row before this one
   * @param fromStreamer the peer is the one fetching the blob from upstream
   */
  static Action afterPeerLane(UpstreamException u, int errorsInRow, boolean fromStreamer) {
    boolean waiting = fromStreamer && u.kind() == UpstreamException.Kind.TIMEOUT;
    return new Action.PeerLater(!waiting, !waiting && errorsInRow + 1 >= MAX_PEER_ERRORS);
  }

  private Action gaveUp(UpstreamException u) {
    return new Action.Fail(new UpstreamException(u.kind(), u.status(), u.getMessage() + " (gave up after " + maxTries + " tries)", u));
  }

  /** The label of a retry after {@code u} in the metrics. */
  static String reason(UpstreamException u) {
    return u.kind() == UpstreamException.Kind.TIMEOUT ? "timeout" : u.status() > 0 ? "status" : "error";
  }
}
