package io.pullmesh.store;

import io.pullmesh.core.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.time.Clock;

/** A partial file in a {@link BlobStore}: what {@link BlobStore#createPartial} and {@link BlobStore#resumePartial} hand out. */
final class StoredPartial implements PartialFile {
  private final BlobStore store;
  private final Clock clock;
  private final Digest digest;
  private final io.pullmesh.core.RepositoryName repository;
  private final long size;
  private final int pieceSize;
  private final FileChannel channel;

  StoredPartial(BlobStore store, Clock clock, Digest digest, io.pullmesh.core.RepositoryName repository, long size, int pieceSize,
      FileChannel channel) {
    this.store = store;
    this.clock = clock;
    this.digest = digest;
    this.repository = repository;
    this.size = size;
    this.pieceSize = pieceSize;
    this.channel = channel;
  }

  @Override
  public int write(ByteBuffer src, long position) throws IOException {
    return channel.write(src, position);
  }

  @Override
  public FileChannel channel() {
    return channel;
  }

  @Override
  public void recordPieces(java.util.BitSet done, int[] prefixes) throws IOException {
    // flushed through a descriptor of its own: the download's channel may be closed under it when the last reader
    // leaves a failed download, and fsync covers the whole file whichever descriptor asks
    try (FileChannel own = FileChannel.open(store.partialPath(digest), StandardOpenOption.WRITE)) {
      own.force(false);
    }
    store.putPartial(new PartialRecord(digest, repository, size, pieceSize, done, clock.millis(), prefixes));
  }

  @Override
  public BlobRecord commit() throws IOException {
    return store.commit(digest, size, channel);
  }

  @Override
  public void discard() {
    store.discardPartial(digest);
  }

  @Override
  public void close() {
    BlobStore.closeQuietly(channel);
  }
}
