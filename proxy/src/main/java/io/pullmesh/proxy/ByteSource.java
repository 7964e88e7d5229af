package io.pullmesh.proxy;

import io.pullmesh.fetch.BlobDownload;
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

  /**
   * A reader of a download in progress as a source, closing the reader when it is closed.
   *
   * @param verified what the response's last bytes wait for: the download's digest check, or a completed future where
   *     the receiver verifies the bytes itself (a peer)
   */
  static ByteSource of(BlobDownload.Reader reader, Future<?> verified) {
    return new ByteSource() {
      @Override
      public Future<Chunk> read(long position, int max) {
        return reader.read(position, max);
      }

      @Override
      public Future<?> verified() {
        return verified;
      }

      @Override
      public void close() {
        reader.close();
      }
    };
  }
}
