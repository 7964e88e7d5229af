package io.pullmesh.fetch;

import io.pullmesh.core.RepositoryName;

/**
 * Which upstream registry serves a repository, and under what name. One upstream for everything by default; with
 * several (a private registry beside registry.ollama.ai), a repository's namespace chooses: {@code corp/llama} may
 * be {@code team/llama} on {@code registry.corp.example}. Blobs stay keyed by digest alone: the same digest is the
 * same bytes wherever it came from.
 */
@FunctionalInterface
public interface UpstreamRouter {
  /** An upstream and the repository's name there. */
  record Route(UpstreamRegistry upstream, RepositoryName remote) {}

  Route route(RepositoryName repository);

  /** Every repository from {@code upstream}, under its own name. */
  static UpstreamRouter single(UpstreamRegistry upstream) {
    return repo -> new Route(upstream, repo);
  }
}
