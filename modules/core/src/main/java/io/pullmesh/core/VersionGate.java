package io.pullmesh.core;

import java.util.Optional;

/**
 * What the cache learned about a tag that registry.ollama.ai gates by client version (412 to an Ollama older than the
 * model needs: ollama #11457, #14431): the oldest client version the registry accepted and the newest it refused,
 * with the registry's own words for the refusal. A pure value: {@link #verdict} says what to do for a client, and
 * {@link #accepted}/{@link #refused} return the gate that also knows the new answer. Not for deciding freshness (the
 * manifest TTL does that), nor for gating anything but a tag's manifest.
 *
 * @param oldestAccepted the oldest version upstream served this tag to, or null
 * @param newestRefused the newest version upstream refused, or null when it never refused any
 * @param refusal the registry's words for that refusal (what it tells the user to do), or null
 */
public record VersionGate(OllamaVersion oldestAccepted, OllamaVersion newestRefused, String refusal) {
  /** A tag upstream never refused anyone. */
  public static final VersionGate OPEN = new VersionGate(null, null, null);
  /** The registry's words are kept up to this many characters. */
  public static final int MAX_REFUSAL_CHARS = 4096;

  public VersionGate {
    if (refusal != null && refusal.length() > MAX_REFUSAL_CHARS) {
      refusal = refusal.substring(0, MAX_REFUSAL_CHARS);
    }
  }

  /** What the cache may do for a client of some version. */
  public enum Verdict {
    /**
     * Serve the cached manifest (if fresh): upstream accepted this version or an older one, and refused none as new (or
     * the cache knows nothing of the tag's gate: a tag cached before gates were kept).
     */
    ACCEPTED,
    /** Answer 412 with {@link #refusal()}: upstream refused this version, or a newer one. */
    REFUSED,
    /**
     * Ask upstream with this client's User-Agent: it is older than any version upstream accepted and newer than any it
     * refused (a client that does not say its version is asked about whenever a refusal is known).
     */
    UNKNOWN
  }

  /** @param version the client's version; empty for a client that does not say (asked upstream when in doubt) */
  public Verdict verdict(Optional<OllamaVersion> version) {
    if (newestRefused == null && oldestAccepted == null) {
      return Verdict.ACCEPTED;
    }
    if (version.isEmpty()) {
      return newestRefused == null ? Verdict.ACCEPTED : Verdict.UNKNOWN;
    }
    OllamaVersion v = version.get();
    if (newestRefused != null && v.compareTo(newestRefused) <= 0) {
      return Verdict.REFUSED;
    }
    return oldestAccepted != null && v.compareTo(oldestAccepted) >= 0 ? Verdict.ACCEPTED : Verdict.UNKNOWN;
  }

  /** Upstream served the tag to {@code version}: a refusal of it or a newer one is forgotten (the bar came down). */
  public VersionGate accepted(OllamaVersion version) {
    OllamaVersion oldest = oldestAccepted == null || version.isOlderThan(oldestAccepted) ? version : oldestAccepted;
    boolean contradicted = newestRefused != null && version.compareTo(newestRefused) <= 0;
    return new VersionGate(oldest, contradicted ? null : newestRefused, contradicted ? null : refusal);
  }

  /** Upstream refused {@code version} with these words: an acceptance of it or an older one is forgotten (the bar rose). */
  public VersionGate refused(OllamaVersion version, String words) {
    OllamaVersion newest = newestRefused == null || newestRefused.isOlderThan(version) ? version : newestRefused;
    boolean contradicted = oldestAccepted != null && oldestAccepted.compareTo(version) <= 0;
    return new VersionGate(contradicted ? null : oldestAccepted, newest, words);
  }
}
