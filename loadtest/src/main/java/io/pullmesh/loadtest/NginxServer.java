package io.pullmesh.loadtest;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * nginx serving one directory as static files, as the sendfile baseline: one process ({@code daemon off;
 * master_process off;}), {@code sendfile on}, no access log, everything (config, pid, error log, temp dirs) in a
 * scratch directory, on 127.0.0.1 and a free port.
 */
final class NginxServer implements AutoCloseable {
  private final Process process;
  private final int port;

  private NginxServer(Process process, int port) {
    this.process = process;
    this.port = port;
  }

  static NginxServer start(Path nginx, Path root, Path dir) throws IOException {
    return start(nginx, root, dir, "");
  }

  /** As {@link #start}, over TLS (1.2 and 1.3) with {@code cert} (PEM chain) and {@code key}. */
  static NginxServer startTls(Path nginx, Path root, Path dir, Path cert, Path key) throws IOException {
    return start(nginx, root, dir, " ssl;\n    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_certificate " + cert.toAbsolutePath()
        + ";\n    ssl_certificate_key " + key.toAbsolutePath());
  }

  /** @param listenSuffix what follows the address in the {@code listen} directive (up to its semicolon) */
  private static NginxServer start(Path nginx, Path root, Path dir, String listenSuffix) throws IOException {
    Files.createDirectories(dir);
    IOException last = null;
    for (int attempt = 0; attempt < 5; attempt++) {
      int port = freePort();
      Path conf = dir.resolve("nginx.conf");
      Path errorLog = dir.resolve("error.log");
      String config = """
          daemon off;
          master_process off;
          worker_processes 1;
          pid %1$s/nginx.pid;
          error_log %2$s warn;
          events {
            worker_connections 1024;
          }
          http {
            access_log off;
            sendfile on;
            tcp_nopush on;
            keepalive_timeout 65;
            default_type application/octet-stream;
            client_body_temp_path %1$s/client_body;
            proxy_temp_path %1$s/proxy;
            fastcgi_temp_path %1$s/fastcgi;
            uwsgi_temp_path %1$s/uwsgi;
            scgi_temp_path %1$s/scgi;
            server {
              listen 127.0.0.1:%3$d%5$s;
              root %4$s;
              location / {
              }
            }
          }
          """.formatted(dir.toAbsolutePath(), errorLog.toAbsolutePath(), port, root.toAbsolutePath(), listenSuffix);
      Files.writeString(conf, config, StandardCharsets.UTF_8);
      Process p = Subprocesses.start(List.of(nginx.toString(), "-p", dir.toAbsolutePath() + "/", "-c",
          conf.toAbsolutePath().toString(), "-e", errorLog.toAbsolutePath().toString()),
          dir.resolve("nginx.out"), dir.resolve("nginx.err"));
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (System.nanoTime() < deadline && p.isAlive()) {
        if (accepts(port)) {
          return new NginxServer(p, port);
        }
        Subprocesses.sleep(50);
      }
      Subprocesses.stop(p, 5);
      last = new IOException("nginx did not start on port " + port + ": " + Proc.read(errorLog) + " "
          + Proc.read(dir.resolve("nginx.err")));
    }
    throw last;
  }

  String url(String path) {
    return "http://127.0.0.1:" + port + "/" + path;
  }

  int port() {
    return port;
  }

  long pid() {
    return process.pid();
  }

  double cpuSeconds() {
    return Proc.cpuSeconds(process.pid());
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      return s.getLocalPort();
    }
  }

  private static boolean accepts(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 200);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  @Override
  public void close() {
    Subprocesses.stop(process, 10);
  }
}
