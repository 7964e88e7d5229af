package io.pullmesh.fetch;

/**
 * Where a lane of a download fetches a piece from: the blob's upstream, or a named peer of the mesh; or, as the answer
 * of {@link SourcePicker}, nowhere yet. A value: it opens nothing (a {@link RangeSource} does).
 */
sealed interface Source {
  /** The blob's upstream registry or CDN. */
  Upstream UPSTREAM = new Upstream();

  /** The blob's upstream registry or CDN. */
  record Upstream() implements Source {}

  /** A peer of the mesh, by its node id. */
  record Peer(String node) implements Source {}

  /**
   * No source can serve the piece now.
   *
   * @param locateUpstream the piece would come from upstream, once this node has found the blob there
   */
  record None(boolean locateUpstream) implements Source {}
}
