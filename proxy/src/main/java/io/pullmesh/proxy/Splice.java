package io.pullmesh.proxy;

import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.net.NetSocket;

/**
 * Joins two connections both ways, with back-pressure: a side whose writes queue up pauses the other's reads until it
 * drains, nothing is buffered without bound, and either side closing (or failing) closes the other.
 *
 * <p>Between two Vert.x TCP sockets the bytes move as the buffers they were read into: each read is written to the
 * other side as it is and released once written. Vert.x's {@code pipeTo} would copy every read into a new heap
 * buffer first, and the socket write would copy it back into direct memory (an intercepted blob crosses this
 * splice once: a copy, an allocation and a zeroing of every byte saved). Any other kind of socket is joined with
 * {@code pipeTo}.
 */
final class Splice {
  private Splice() {}

  /** Joins {@code a} and {@code b}; {@code closed} runs when either side closes (possibly twice). */
  static void join(NetSocket a, NetSocket b, Runnable closed) {
    a.closeHandler(v -> {
      closed.run();
      b.close();
    });
    b.closeHandler(v -> {
      closed.run();
      a.close();
    });
    a.exceptionHandler(t -> a.close());
    b.exceptionHandler(t -> b.close());
    if (a instanceof NetSocketInternal ia && b instanceof NetSocketInternal ib) {
      oneWay(ia, ib);
      oneWay(ib, ia);
    } else {
      a.pipeTo(b);
      b.pipeTo(a);
    }
  }

  /** Everything read from {@code from} is written to {@code to}; {@code from} waits while {@code to} is full. */
  private static void oneWay(NetSocketInternal from, NetSocketInternal to) {
    to.drainHandler(v -> from.resume());
    from.messageHandler(msg -> {
      // the message (a ByteBuf) is now the write's: Netty releases it once written, or when the write fails
      to.writeMessage(msg);
      if (to.writeQueueFull()) {
        from.pause();
      }
    });
  }
}
