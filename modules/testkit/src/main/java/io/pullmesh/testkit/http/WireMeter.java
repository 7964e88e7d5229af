package io.pullmesh.testkit.http;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP relay that counts the bytes crossing it: a client connects to {@link #port()}, the relay connects to the target
 * and copies both ways. {@link #toClient()} counts every byte the relay handed to a client's socket, read by the client
 * or not: what crossed the wire to it, which is more than a client that hangs up early reads (Ollama closes its
 * URL-resolution GET after the headers; whatever was in flight still crossed). Stands for a packet counter on the
 * client's link; it changes nothing in the bytes. Not for TLS inspection, not a proxy: it relays to one address.
 */
public final class WireMeter implements AutoCloseable {
  private static final int BUFFER = 64 << 10;

  private final ServerSocket server;
  private final InetSocketAddress target;
  private final ExecutorService pumps = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "wire-meter");
    t.setDaemon(true);
    return t;
  });
  private final AtomicLong toClient = new AtomicLong();
  private final AtomicLong toServer = new AtomicLong();
  private final List<Socket> open = new ArrayList<>();

  private WireMeter(InetSocketAddress target) throws IOException {
    this.target = target;
    this.server = new ServerSocket(0, 256, InetAddress.getLoopbackAddress());
    pumps.execute(this::accept);
  }

  /** Starts relaying {@code 127.0.0.1:<port()>} to {@code host:port}. */
  public static WireMeter to(String host, int port) throws IOException {
    return new WireMeter(new InetSocketAddress(host, port));
  }

  public int port() {
    return server.getLocalPort();
  }

  /** {@code http://127.0.0.1:<port>}. */
  public String url() {
    return "http://127.0.0.1:" + port();
  }

  /** Bytes handed to clients' sockets so far. */
  public long toClient() {
    return toClient.get();
  }

  /** Bytes received from clients so far. */
  public long toServer() {
    return toServer.get();
  }

  private void accept() {
    while (!server.isClosed()) {
      Socket client;
      try {
        client = server.accept();
      } catch (IOException e) {
        return;
      }
      try {
        Socket upstream = new Socket();
        upstream.connect(target, 5000);
        client.setTcpNoDelay(true);
        upstream.setTcpNoDelay(true);
        synchronized (open) {
          open.add(client);
          open.add(upstream);
        }
        pumps.execute(() -> pump(client, upstream, toServer));
        pumps.execute(() -> pump(upstream, client, toClient));
      } catch (IOException e) {
        closeQuietly(client);
      }
    }
  }

  /** Copies {@code from} to {@code to}, counting each write that succeeded; either side ending closes both. */
  private static void pump(Socket from, Socket to, AtomicLong counter) {
    byte[] buf = new byte[BUFFER];
    try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
      for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
        out.write(buf, 0, n);
        counter.addAndGet(n);
      }
    } catch (IOException e) {
      // a side hung up: the other one goes too
    } finally {
      closeQuietly(from);
      closeQuietly(to);
    }
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // closing
    }
  }

  @Override
  public void close() {
    try {
      server.close();
    } catch (IOException e) {
      // closing
    }
    synchronized (open) {
      open.forEach(WireMeter::closeQuietly);
    }
    pumps.shutdownNow();
  }
}
