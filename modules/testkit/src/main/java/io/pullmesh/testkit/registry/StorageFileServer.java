package io.pullmesh.testkit.registry;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.pullmesh.core.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A plain static file server over a directory, standing for the object store or CDN a registry's
 * {@code redirect} middleware sends blob downloads to (see {@link DistributionRegistry.Builder#redirectBlobsTo}).
 * GET and HEAD, one {@code Range: bytes=a-b | a- | -n} per request (206 with Content-Range, 416 when
 * unsatisfiable), no query strings, nothing outside the root. Counts body bytes sent per blob. Runs on the JDK's
 * {@link HttpServer} with its own threads (blocking file reads are fine there).
 */
public final class StorageFileServer implements AutoCloseable {
  private static final Pattern RANGE = Pattern.compile("^bytes=(\\d*)-(\\d*)$");
  private static final Pattern BLOB_PATH = Pattern.compile(".*/blobs/sha256/[0-9a-f]{2}/([0-9a-f]{64})/data$");

  private final HttpServer server;
  private final ExecutorService executor;
  private final Path root;
  private final Map<String, AtomicLong> bytesByHex = new ConcurrentHashMap<>();
  private final AtomicLong requests = new AtomicLong();

  private StorageFileServer(HttpServer server, ExecutorService executor, Path root) {
    this.server = server;
    this.executor = executor;
    this.root = root;
  }

  /**
   * Serves {@code root} on {@code host} (e.g. 127.0.0.2, a host name other than the registry's) and an
   * ephemeral port.
   */
  public static StorageFileServer start(String host, Path root) {
    try {
      HttpServer server = HttpServer.create(new InetSocketAddress(host, 0), 64);
      ExecutorService executor = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "storage-file-server");
        t.setDaemon(true);
        return t;
      });
      StorageFileServer s = new StorageFileServer(server, executor, root.toAbsolutePath().normalize());
      server.createContext("/", s::handle);
      server.setExecutor(executor);
      server.start();
      return s;
    } catch (IOException e) {
      throw new UncheckedIOException("starting a file server on " + host + ": " + e.getMessage(), e);
    }
  }

  /** {@code http://<host>:<port>/}. */
  public String url() {
    InetSocketAddress a = server.getAddress();
    return "http://" + a.getHostString() + ":" + a.getPort() + "/";
  }

  /** Body bytes sent for blob {@code digest} (its {@code .../<hex>/data} file). */
  public long blobBytesSent(Digest digest) {
    AtomicLong n = bytesByHex.get(digest.hex());
    return n == null ? 0 : n.get();
  }

  /** Requests answered, all paths and statuses. */
  public long requests() {
    return requests.get();
  }

  private void handle(HttpExchange ex) throws IOException {
    requests.incrementAndGet();
    try (ex) {
      String method = ex.getRequestMethod();
      if (!method.equals("GET") && !method.equals("HEAD")) {
        ex.sendResponseHeaders(405, -1);
        return;
      }
      Path file = root.resolve(ex.getRequestURI().getPath().substring(1)).normalize();
      if (!file.startsWith(root) || !Files.isRegularFile(file)) {
        ex.sendResponseHeaders(404, -1);
        return;
      }
      long size = Files.size(file);
      long first = 0;
      long last = size - 1;
      int status = 200;
      String range = ex.getRequestHeaders().getFirst("Range");
      if (range != null) {
        Matcher m = RANGE.matcher(range.strip());
        if (m.matches() && !(m.group(1).isEmpty() && m.group(2).isEmpty())) {
          if (m.group(1).isEmpty()) {
            first = Math.max(0, size - Long.parseLong(m.group(2)));
          } else {
            first = Long.parseLong(m.group(1));
            last = m.group(2).isEmpty() ? size - 1 : Math.min(size - 1, Long.parseLong(m.group(2)));
          }
          if (first >= size || first > last) {
            ex.getResponseHeaders().set("Content-Range", "bytes */" + size);
            ex.sendResponseHeaders(416, -1);
            return;
          }
          status = 206;
          ex.getResponseHeaders().set("Content-Range", "bytes " + first + "-" + last + "/" + size);
        }
      }
      long length = last - first + 1;
      ex.getResponseHeaders().set("Content-Type", "application/octet-stream");
      ex.getResponseHeaders().set("Accept-Ranges", "bytes");
      if (method.equals("HEAD")) {
        ex.getResponseHeaders().set("Content-Length", Long.toString(length));
        ex.sendResponseHeaders(status, -1);
        return;
      }
      ex.sendResponseHeaders(status, length == 0 ? -1 : length);
      Matcher blob = BLOB_PATH.matcher(file.toString());
      AtomicLong counter = blob.matches() ? bytesByHex.computeIfAbsent(blob.group(1), k -> new AtomicLong()) : new AtomicLong();
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
          InputStream in = Channels.newInputStream(ch.position(first));
          OutputStream out = ex.getResponseBody()) {
        byte[] buf = new byte[64 << 10];
        long left = length;
        while (left > 0) {
          int n = in.read(buf, 0, (int) Math.min(buf.length, left));
          if (n < 0) {
            break;
          }
          out.write(buf, 0, n);
          counter.addAndGet(n);
          left -= n;
        }
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
