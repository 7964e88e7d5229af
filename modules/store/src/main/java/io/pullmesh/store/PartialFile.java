package io.pullmesh.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.BitSet;

/**
 * The partial file of one download, like DiskLruCache's {@code Editor}: write bytes where they belong, record which
 * pieces are durable, then commit the verified file as the blob or discard it. Made by {@link BlobStore#createPartial}
 * or {@link BlobStore#resumePartial}. Blocking; not for hashing or verifying (the download does that first: commit
 * trusts its caller).
 */
public interface PartialFile {
  /** Writes some of {@code src} at {@code position}; returns how many bytes (like {@link FileChannel#write(ByteBuffer, long)}). */
  int write(ByteBuffer src, long position) throws IOException;

  /** The file, for reads (readers, hashes); stays open after {@link #commit}, until {@link #close}. */
  FileChannel channel();

  /**
   * Flushes the file, then records {@code done} pieces and the written {@code prefixes} of the others in the piece map.
   * Pieces finished after the caller took its snapshot are not named, so every byte the record names is on disk.
   */
  void recordPieces(BitSet done, int[] prefixes) throws IOException;

  /** Publishes the file as the committed blob (flushed and renamed); the caller checked its bytes. */
  BlobRecord commit() throws IOException;

  /** Deletes the file and its piece map. */
  void discard();

  /** Closes the file, quietly (a reader may still hold the committed blob open through its own channel). */
  void close();
}
