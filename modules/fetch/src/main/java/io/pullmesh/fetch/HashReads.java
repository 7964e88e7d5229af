package io.pullmesh.fetch;

import java.nio.ByteBuffer;

/**
 * The buffer a thread reads file bytes into to hash them: one direct 256 KiB buffer per thread, kept. Hashing used to
 * allocate a 1 MiB heap buffer per pass, and a download hashes its growing prefix many times a second: each was a
 * humongous object for G1 (a 256 MiB heap has 1 MiB regions), and the JDK copied every read through a temporary direct
 * buffer of the same size cached per thread besides. Under 16 downloads at once that grew the heap and the native
 * memory (issue 17). Hashing runs on the io pool and Vert.x's worker threads, both bounded, so these buffers are too.
 * Not for bytes that leave the thread.
 */
final class HashReads {
  static final int SIZE = 256 << 10;
  private static final ThreadLocal<ByteBuffer> BUFFER = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(SIZE));

  private HashReads() {}

  /** This thread's buffer, cleared; its contents are the caller's until it returns. */
  static ByteBuffer buffer() {
    return BUFFER.get().clear();
  }
}
