package io.pullmesh.fetch;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Bytes read from a blob file into pooled direct memory, so they go to a socket without further copies. The
 * holder must call {@link #release()} exactly once, after the last write of {@link #data()} completed (or
 * when it decides not to write it).
 */
public final class Chunk {
  private final ByteBuf owner;
  private final Buffer data;

  private Chunk(ByteBuf owner) {
    this.owner = owner;
    this.data = BufferInternal.buffer(owner);
  }

  /**
   * Reads exactly {@code length} bytes at {@code position}. Blocking: call on an io thread.
   *
   * @throws IOException when the file ends first or cannot be read
   */
  public static Chunk read(FileChannel channel, long position, int length) throws IOException {
    ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(length, length);
    try {
      ByteBuffer nio = buf.nioBuffer(0, length);
      long at = position;
      while (nio.hasRemaining()) {
        int r = channel.read(nio, at);
        if (r < 0) {
          throw new IOException("unexpected end of file at " + at);
        }
        at += r;
      }
      buf.writerIndex(length);
      return new Chunk(buf);
    } catch (IOException | RuntimeException e) {
      buf.release();
      throw e;
    }
  }

  /** The bytes; valid until {@link #release()}. */
  public Buffer data() {
    return data;
  }

  public int length() {
    return data.length();
  }

  /** Returns the memory to the pool. */
  public void release() {
    owner.release();
  }
}
