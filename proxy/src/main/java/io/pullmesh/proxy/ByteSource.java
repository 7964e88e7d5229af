package io.pullmesh.proxy;

import io.pullmesh.fetch.Chunk;
import io.vertx.core.Future;

/** Bytes of one blob to copy into a response: a download in progress, or a committed file. */
interface ByteSource {
  /**
   * Reads 1 to {@code max} bytes at {@code position}; completes on the caller's context with a chunk the caller
   * must release.
   */
  Future<Chunk> read(long position, int max);

  /**
   * Succeeds once the blob's digest is verified (at once for a committed blob); fails when it never will be.
   * A response holds back its last bytes until this succeeds.
   */
  Future<?> verified();

  /** Releases the source; called once, whatever happened. */
  void close();
}
