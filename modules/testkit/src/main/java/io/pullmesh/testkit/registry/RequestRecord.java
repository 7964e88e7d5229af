package io.pullmesh.testkit.registry;

import java.time.Instant;

/**
 * One request as the fake servers saw it, logged when its response headers went out.
 *
 * @param at when (the registry's clock)
 * @param server {@code "registry"}, {@code "cdn"} or {@code "hub"}
 * @param kind what it was
 * @param method {@code GET}, {@code HEAD}, ...
 * @param host the {@code Host} header
 * @param uri path and query as sent
 * @param range the {@code Range} header, or null
 * @param authorization whether an {@code Authorization} header was present
 * @param status the status answered
 * @param userAgent the {@code User-Agent} header, or null (Ollama sends {@code ollama/<version> (<arch> <os>)
 *     Go/<go version>} on registry calls, server/images.go {@code makeRequest}, which is what registry.ollama.ai
 *     gates models on; its blob parts carry Go's default one)
 */
public record RequestRecord(
    Instant at, String server, RequestKind kind, String method, String host, String uri, String range,
    boolean authorization, int status, String userAgent) {

  /** The path without the query string. */
  public String path() {
    int q = uri.indexOf('?');
    return q < 0 ? uri : uri.substring(0, q);
  }

  @Override
  public String toString() {
    return server + " " + method + " " + host + path() + (range != null ? " [" + range + "]" : "")
        + (authorization ? " (auth)" : "") + " -> " + status;
  }
}
