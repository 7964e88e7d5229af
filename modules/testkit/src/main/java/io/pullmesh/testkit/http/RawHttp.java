package io.pullmesh.testkit.http;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Sends one HTTP/1.1 request over a fresh socket ({@code Connection: close}) and reads the response byte by
 * byte as sent: status, headers in order, body by {@code Content-Length}, chunked coding or until close. Never
 * throws for a short or stalled body: {@link RawResponse#complete()} and {@link RawResponse#timedOut()} say
 * what happened. Stands for no particular client; it is a measuring instrument. Blocking; test threads only.
 */
public final class RawHttp {
  private RawHttp() {}

  /** Default read timeout: long enough for a loaded machine, short enough to end a stalled-body test. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

  public static RawResponse get(String url) {
    return request("GET", url, Map.of(), DEFAULT_TIMEOUT);
  }

  public static RawResponse get(String url, Map<String, String> headers) {
    return request("GET", url, headers, DEFAULT_TIMEOUT);
  }

  public static RawResponse head(String url) {
    return request("HEAD", url, Map.of(), DEFAULT_TIMEOUT);
  }

  public static RawResponse head(String url, Map<String, String> headers) {
    return request("HEAD", url, headers, DEFAULT_TIMEOUT);
  }

  /**
   * @param headers extra request headers ({@code Host} and {@code Connection: close} are added unless given)
   * @param readTimeout how long to wait for each read before giving up with {@code timedOut = true}
   * @throws UncheckedIOException when the connection fails or the status line and headers do not arrive
   */
  public static RawResponse request(String method, String url, Map<String, String> headers, Duration readTimeout) {
    URI uri = URI.create(url);
    int port = uri.getPort() >= 0 ? uri.getPort() : 80;
    String target = (uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath())
        + (uri.getRawQuery() != null ? "?" + uri.getRawQuery() : "");
    Map<String, String> all = new LinkedHashMap<>();
    all.put("Host", uri.getHost() + ":" + port);
    all.put("Connection", "close");
    all.putAll(headers);
    StringBuilder req = new StringBuilder(method).append(' ').append(target).append(" HTTP/1.1\r\n");
    all.forEach((k, v) -> req.append(k).append(": ").append(v).append("\r\n"));
    req.append("\r\n");
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(uri.getHost(), port), (int) readTimeout.toMillis());
      socket.setSoTimeout((int) Math.max(1, readTimeout.toMillis()));
      OutputStream out = socket.getOutputStream();
      out.write(req.toString().getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      return read(socket.getInputStream(), method.equals("HEAD"));
    } catch (IOException e) {
      throw new UncheckedIOException(method + " " + url + ": " + e.getMessage(), e);
    }
  }

  private static RawResponse read(InputStream raw, boolean head) throws IOException {
    InputStream in = new java.io.BufferedInputStream(raw);
    String statusLine = line(in);
    String[] parts = statusLine.split(" ", 3);
    if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
      throw new IOException("not an HTTP status line: " + statusLine);
    }
    int status = Integer.parseInt(parts[1]);
    List<Map.Entry<String, String>> headers = new ArrayList<>();
    for (String l = line(in); !l.isEmpty(); l = line(in)) {
      int colon = l.indexOf(':');
      headers.add(new AbstractMap.SimpleImmutableEntry<>(l.substring(0, colon).strip(), l.substring(colon + 1).strip()));
    }
    String te = find(headers, "Transfer-Encoding");
    String cl = find(headers, "Content-Length");
    boolean chunked = te != null && te.toLowerCase(Locale.ROOT).contains("chunked");
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    if (head || status == 204 || status == 304 || status / 100 == 1) {
      return new RawResponse(status, headers, new byte[0], chunked, true, false);
    }
    boolean complete;
    boolean timedOut = false;
    try {
      if (chunked) {
        complete = readChunked(in, body);
      } else if (cl != null) {
        complete = copy(in, body, Long.parseLong(cl));
      } else {
        copy(in, body, Long.MAX_VALUE);
        complete = true;
      }
    } catch (SocketTimeoutException e) {
      complete = false;
      timedOut = true;
    } catch (IOException e) {
      complete = false;
    }
    return new RawResponse(status, headers, body.toByteArray(), chunked, complete, timedOut);
  }

  /** Copies up to {@code n} bytes; false when the stream ended first. */
  private static boolean copy(InputStream in, ByteArrayOutputStream out, long n) throws IOException {
    byte[] buf = new byte[16 * 1024];
    long left = n;
    while (left > 0) {
      int r = in.read(buf, 0, (int) Math.min(buf.length, left));
      if (r < 0) {
        return false;
      }
      out.write(buf, 0, r);
      left -= r;
    }
    return true;
  }

  private static boolean readChunked(InputStream in, ByteArrayOutputStream out) throws IOException {
    while (true) {
      String sizeLine;
      try {
        sizeLine = line(in);
      } catch (EOFException e) {
        return false;
      }
      int semi = sizeLine.indexOf(';');
      long size = Long.parseLong((semi < 0 ? sizeLine : sizeLine.substring(0, semi)).strip(), 16);
      if (size == 0) {
        while (!line(in).isEmpty()) {
          // trailers
        }
        return true;
      }
      if (!copy(in, out, size)) {
        return false;
      }
      line(in);
    }
  }

  private static String line(InputStream in) throws IOException {
    StringBuilder b = new StringBuilder();
    int c;
    while ((c = in.read()) >= 0) {
      if (c == '\n') {
        int len = b.length();
        return len > 0 && b.charAt(len - 1) == '\r' ? b.substring(0, len - 1) : b.toString();
      }
      b.append((char) c);
    }
    throw new EOFException("connection closed in the middle of a line: " + b);
  }

  private static String find(List<Map.Entry<String, String>> headers, String name) {
    for (Map.Entry<String, String> h : headers) {
      if (h.getKey().equalsIgnoreCase(name)) {
        return h.getValue();
      }
    }
    return null;
  }
}
