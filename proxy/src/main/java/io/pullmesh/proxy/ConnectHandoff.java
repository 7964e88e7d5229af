package io.pullmesh.proxy;

import io.netty.channel.Channel;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpServer;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.net.NetSocket;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Hands an intercepted CONNECT's own connection to the node's TLS server, so the client's TLS ends on the socket the
 * client opened. Without it, the CONNECT is spliced over loopback to that server ({@link Splice}): every byte of an
 * intercepted blob then crosses two more sockets (written to the loopback hop, read back, written again to the
 * client), on the same event loops that encrypt it.
 *
 * <p>After Vert.x has answered the CONNECT and turned the connection into a plain socket ({@code toNetSocket}), its
 * Netty channel is emptied of Vert.x's handlers and given to the TLS server's accept path for the channel's own event
 * loop, as if that server had accepted it: the server adds its TLS handler, waits for the client's hello, and serves
 * HTTP/1.1 on it. The CONNECT's connection object is closed (its metrics and close handlers run) when the channel is.
 *
 * <p>This uses Vert.x 5's internals (the HTTP server's TCP server, and that server's accept handler):
 * {@link #unavailable} says, at start, whether this Vert.x has them. If not, or when {@code -Dpullmesh.intercept.handoff=false}
 * turns the handoff off, {@link ForwardProxy} keeps the loopback hop, which needs none. Not for deciding what is intercepted, nor for the TLS server's options: {@link ForwardProxy}.
 *
 * <p>A client must not send TLS bytes before it reads the CONNECT's 200 (curl, Go's and the JDK's clients all wait):
 * bytes that came in the same read as the CONNECT request stay with Vert.x's HTTP connection, which drops them, and
 * the handshake then times out (the loopback hop did the same). Bytes that arrive after the 200 and before the
 * handover are kept and given to the TLS handler.
 */
final class ConnectHandoff {
  private static final Logger LOG = Logger.getLogger(ConnectHandoff.class.getName());

  /** How to reach a Vert.x HTTP server's accept handler; null fields when this Vert.x does not have them. */
  private static final Field TCP_SERVER;
  private static final Field WORKER;
  private static final Method HANDLE_CLOSED;
  private static final String MISSING;

  static {
    Field tcp = null;
    Field worker = null;
    Method closed = null;
    String missing = null;
    try {
      tcp = Class.forName("io.vertx.core.http.impl.HttpServerImpl").getDeclaredField("tcpServer");
      tcp.setAccessible(true);
      worker = Class.forName("io.vertx.core.net.impl.NetServerImpl").getDeclaredField("worker");
      worker.setAccessible(true);
      closed = Class.forName("io.vertx.core.net.impl.ConnectionBase").getDeclaredMethod("handleClosed");
      closed.setAccessible(true);
    } catch (ReflectiveOperationException | RuntimeException e) {
      missing = e.toString();
      tcp = null;
      worker = null;
      closed = null;
    }
    TCP_SERVER = tcp;
    WORKER = worker;
    HANDLE_CLOSED = closed;
    MISSING = missing;
  }

  /** Each TLS server instance's accept handler, by the event loop it runs on. */
  private final Map<EventLoop, Handler<Channel>> acceptors = new ConcurrentHashMap<>();
  private final AtomicLong handedOff = new AtomicLong();

  /** The system property that turns the handoff off ({@code false}), keeping the loopback hop: a way back, not a tuning knob. */
  static final String SWITCH = "pullmesh.intercept.handoff";

  /** Null when connections can be handed over, else why not (for the start-up log). */
  static String unavailable() {
    if ("false".equalsIgnoreCase(System.getProperty(SWITCH))) {
      return "turned off with -D" + SWITCH + "=false";
    }
    return MISSING == null ? null : "this Vert.x lacks what it needs: " + MISSING;
  }

  /**
   * Registers a listening TLS server instance whose connections run on {@code loop}.
   *
   * @return false when its accept handler cannot be reached (this Vert.x differs) or the handoff is turned off: its
   *     loop keeps the hop
   */
  boolean register(HttpServer tlsServer, EventLoop loop) {
    if (unavailable() != null) {
      return false;
    }
    try {
      Object tcp = TCP_SERVER.get(tlsServer);
      @SuppressWarnings("unchecked")
      Handler<Channel> accept = tcp == null ? null : (Handler<Channel>) WORKER.get(tcp);
      if (accept == null) {
        return false;
      }
      acceptors.put(loop, accept);
      return true;
    } catch (ReflectiveOperationException | RuntimeException e) {
      LOG.log(Level.FINE, "TLS server instance on " + loop + " cannot take connections over", e);
      return false;
    }
  }

  /** Whether a CONNECT arriving on {@code loop} can be handed over (else: the loopback hop). */
  boolean canTake(EventLoop loop) {
    return acceptors.containsKey(loop);
  }

  /**
   * Moves {@code connect} (a CONNECT just turned into a plain socket, on its event loop) to the TLS server of its event
   * loop, in a task of that loop that runs next.
   *
   * @return false, with the socket untouched, when no TLS server runs on its event loop
   */
  boolean take(NetSocket connect) {
    if (!(connect instanceof NetSocketInternal internal)) {
      return false;
    }
    Channel ch = internal.channelHandlerContext().channel();
    Handler<Channel> accept = acceptors.get(ch.eventLoop());
    if (accept == null) {
      return false;
    }
    assert ch.eventLoop().inEventLoop() : "a channel's pipeline is changed on its own event loop";
    // anything read past the CONNECT's headers until the handover is given to the TLS handler first, in order
    List<Object> early = new ArrayList<>();
    internal.messageHandler(early::add);
    // after the read that carried the CONNECT has gone through the pipeline: some of Vert.x's HTTP handlers remove
    // themselves once it has, and would fail to if they were gone already
    try {
      ch.eventLoop().execute(() -> handOver(ch, accept, internal, early));
    } catch (RuntimeException e) {
      // the event loop is shutting down: the node is closing, and so is the connection
      ch.close();
    }
    return true;
  }

  private void handOver(Channel ch, Handler<Channel> accept, NetSocketInternal connect, List<Object> early) {
    if (!ch.isActive()) {
      // closed before its turn: Vert.x's own handlers saw the close and ended the CONNECT's connection
      early.forEach(ReferenceCountUtil::release);
      return;
    }
    ChannelPipeline p = ch.pipeline();
    try {
      for (String name : new ArrayList<>(p.toMap().keySet())) {
        p.remove(name);
      }
      ch.closeFuture().addListener(f -> closed(connect));
      accept.handle(ch);
    } catch (RuntimeException e) {
      // a channel without its handlers would stay open with no one to time it out
      LOG.log(Level.WARNING, "handing an intercepted connection to the TLS server failed; closing it", e);
      early.forEach(ReferenceCountUtil::release);
      ch.close();
      return;
    }
    handedOff.incrementAndGet();
    ch.config().setAutoRead(true);
    for (Object msg : early) {
      p.fireChannelRead(msg);
    }
    if (!early.isEmpty()) {
      p.fireChannelReadComplete();
    }
  }

  /** Ends the CONNECT's connection object as Vert.x would had it seen the close: its metrics and close handlers. */
  private static void closed(NetSocket connect) {
    try {
      HANDLE_CLOSED.invoke(connect);
    } catch (ReflectiveOperationException | RuntimeException e) {
      LOG.log(Level.FINE, "closing a handed-off CONNECT's connection", e);
    }
  }

  /** Connections handed over so far. */
  long handedOff() {
    return handedOff.get();
  }
}
