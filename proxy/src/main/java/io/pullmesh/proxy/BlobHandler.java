package io.pullmesh.proxy;

import io.pullmesh.core.ByteRange;
import io.pullmesh.core.Digest;
import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RangeHeader;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RegistryRoute;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.fetch.Chunk;
import io.pullmesh.fetch.DownloadManager;
import io.pullmesh.metrics.MetricsRecorder;
import io.pullmesh.store.BlobStore;
import io.pullmesh.store.SpaceManager;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.net.HostAndPort;
import java.io.IOException;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * {@code GET|HEAD /v2/<name>/blobs/<digest>}.
 *
 * <p>HEAD always carries Content-Length (Ollama sizes its download from it and nothing else). GET honours
 * Range exactly: one range gets 206 with Content-Range, several get {@code multipart/byteranges}, one that does
 * not parse or lies past the end gets 416. A ranged GET never gets 200 with the whole body: Ollama never checks
 * for 206 and would write the whole body into each part.
 *
 * <p>Ollama resolves a blob's URL with one GET before its parts: it takes the Location of a 307 to another
 * host, or of a 200 (newer builds accept a 200 without one). A GET without Range therefore gets its 200 with a
 * {@code Location} naming the blob's URL on this node, which every Ollama build accepts and every other client
 * ignores. With {@code --public-url}, a GET that arrived under another host name is redirected (307) there.
 *
 * <p>A committed blob is sent with sendfile; a blob being fetched is streamed as its bytes land, with the last
 * bytes held until its digest is verified.
 */
final class BlobHandler {
  /** How long the body of Ollama's URL-resolution GET waits after its headers; see {@link #serveSource}. */
  static final long RESOLUTION_BODY_DELAY_MS = 200;
  private static final Pattern DNS_NAME = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?");
  private static final Pattern IP_LITERAL = Pattern.compile("[0-9a-fA-F:.]+");
  private final Vertx vertx;
  private final DownloadManager downloads;
  private final BlobStore store;
  private final Executor io;
  private final MetricsRecorder metrics;
  private final URI publicUrl;
  private final Aliases aliases;
  private final SpaceManager space;
  private final AccessLog accesses;
  private final PullLog pulls;
  private final Clock clock;
  private final java.util.function.IntSupplier transferPort;

  /** @param transferPort the port x/transfer clients are redirected to for blob bodies, or a negative number for none */
  BlobHandler(Vertx vertx, DownloadManager downloads, BlobStore store, SpaceManager space, Executor io, MetricsRecorder metrics,
      URI publicUrl, Aliases aliases, PullLog pulls, Clock clock, java.util.function.IntSupplier transferPort) {
    this.transferPort = transferPort;
    this.pulls = pulls;
    this.vertx = vertx;
    this.downloads = downloads;
    this.store = store;
    this.io = io;
    this.metrics = metrics;
    this.publicUrl = publicUrl;
    this.aliases = aliases;
    this.space = space;
    this.clock = clock;
    this.accesses = new AccessLog(10 * 60_000);
  }

  /** Upstream knows blobs under real names only: a blob asked for under an alias is fetched under its target's. */
  private Future<RepositoryName> upstreamName(RepositoryName repo, Digest digest) {
    if (!aliases.isAliasRepository(repo)) {
      return Future.succeededFuture(repo);
    }
    return vertx.executeBlocking(() -> aliases.upstreamRepository(repo, digest), false);
  }

  void handle(Exchange ex, RegistryRoute.Blob route) {
    HttpServerRequest req = ex.request;
    HttpServerResponse resp = req.response();
    Digest digest = route.digest();
    String etag = "\"" + digest + "\"";
    resp.putHeader("Docker-Content-Digest", digest.toString())
        .putHeader("ETag", etag)
        .putHeader("Accept-Ranges", "bytes")
        .putHeader("Cache-Control", "max-age=31536000, immutable");
    boolean head = req.method() == HttpMethod.HEAD;
    if (matches(req.getHeader("If-None-Match"), etag)) {
      resp.setStatusCode(304).end();
      return;
    }
    if (head) {
      upstreamName(route.name(), digest).compose(name -> downloads.size(name, digest, ex.upstreamAgent())).onComplete(ar -> {
        if (ar.failed()) {
          Responses.error(resp, ar.cause(), true);
          return;
        }
        resp.putHeader("Content-Type", "application/octet-stream")
            .putHeader("Content-Length", Long.toString(ar.result()))
            .setStatusCode(200).end();
      });
      return;
    }
    String range = req.getHeader("Range");
    String ifRange = req.getHeader("If-Range");
    if (range != null && ifRange != null && !ifRange.strip().equals(etag)) {
      range = null; // RFC 9110 13.1.5: a validator that does not match means "send me the whole thing"
    }
    if (range == null && publicUrl != null && !ex.intercepted && !sameHost(req.authority(), publicUrl)) {
      resp.putHeader("Location", publicUrl(req)).putHeader("Content-Length", "0").setStatusCode(307).end();
      return;
    }
    if (range == null && ex.isXTransfer() && !ex.transferPort && !ex.intercepted && transferPort.getAsInt() > 0 && validHost(req.authority())) {
      // x/transfer resolves a blob URL with a GET whose body it reads to the end and throws away, then GETs the URL it
      // resolved to (x/transfer/download.go:397-440): a 200 here would cost it the blob twice. A redirect to another
      // host:port ends its resolution unrequested (it compares url.Host, host and port), so the one body it reads is the
      // GET on the transfer port. server/download.go, curl and the rest never see this redirect.
      resp.putHeader("Location", transferUrl(req)).putHeader("Content-Length", "0").setStatusCode(307).end();
      return;
    }
    String rangeHeader = range;
    upstreamName(route.name(), digest).compose(name -> downloads.open(name, digest, ex.upstreamAgent())).onComplete(ar -> {
      if (ar.failed()) {
        Responses.error(resp, ar.cause(), false);
        return;
      }
      DownloadManager.Lookup found = ar.result();
      // never evicted while this response runs
      SpaceManager.Lease lease = space.use(digest);
      ex.onDone(lease::close);
      String cacheResult = found instanceof DownloadManager.Lookup.InFlight f ? (f.started() ? "miss" : "inflight") : "hit";
      if ("miss".equals(cacheResult)) {
        pulls.blobStarted(ex.client, digest);
      }
      ex.onDone(() -> pulls.blobServed(ex.client, digest, resp.bytesWritten(), cacheResult));
      if (found instanceof DownloadManager.Lookup.Committed c) {
        metrics.blobRequest("hit");
        resp.putHeader("X-Pullmesh-Cache", "hit");
        if (accesses.isNewAccess(ex.client, digest, clock.millis())) {
          vertx.executeBlocking(() -> {
            store.recordHit(digest);
            return null;
          }, false);
        }
        serveCommitted(ex, c.path(), c.record().size(), rangeHeader, digest);
      } else if (found instanceof DownloadManager.Lookup.InFlight f) {
        metrics.blobRequest(f.started() ? "miss" : "inflight");
        resp.putHeader("X-Pullmesh-Cache", f.started() ? "miss" : "inflight");
        ByteSource source = ByteSource.of(f.reader(), f.download().verified());
        if (resp.closed()) {
          source.close();
          return;
        }
        serveSource(ex, source, f.download().size(), rangeHeader, digest, MetricsRecorder.Source.INFLIGHT);
      }
    });
  }


  private static boolean matches(String ifNoneMatch, String etag) {
    if (ifNoneMatch == null) {
      return false;
    }
    for (String t : ifNoneMatch.split(",")) {
      String v = t.strip();
      if (v.startsWith("W/")) {
        v = v.substring(2);
      }
      if (v.equals("*") || v.equals(etag)) {
        return true;
      }
    }
    return false;
  }

  private static boolean sameHost(HostAndPort authority, URI url) {
    return authority != null && authority.host() != null && authority.host().equalsIgnoreCase(url.getHost());
  }

  /** A Host a redirect may name: a DNS name or an IP literal, nothing else (an empty or odd one gets the body instead). */
  private static boolean validHost(HostAndPort a) {
    return a != null && a.host() != null && (DNS_NAME.matcher(a.host()).matches() || IP_LITERAL.matcher(a.host()).matches());
  }

  /** This blob's URL on the transfer port, under the host name the client used. */
  private String transferUrl(HttpServerRequest req) {
    String host = req.authority().host();
    return (req.isSSL() ? "https" : "http") + "://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + transferPort.getAsInt() + req.path();
  }

  private String publicUrl(HttpServerRequest req) {
    String base = publicUrl.toString();
    return (base.endsWith("/") ? base.substring(0, base.length() - 1) : base) + req.path();
  }

  /**
   * The URL of this blob for the Location header Ollama resolves its parts with: the configured public URL, else the
   * path alone, which the client resolves against the URL it asked (Go's {@code Response.Location()}), so it names this
   * node under whatever name the client used without the Host header ever being written back (issue 18: a Host of
   * {@code evil.example:1234} was reflected into an immutable, cacheable response; an empty one gave {@code http:///v2/}).
   */
  private String selfUrl(Exchange ex) {
    HttpServerRequest req = ex.request;
    if (publicUrl != null && !ex.intercepted) {
      return publicUrl(req);
    }
    return req.path();
  }

  private void serveCommitted(Exchange ex, Path path, long size, String range, Digest digest) {
    HttpServerRequest req = ex.request;
    HttpServerResponse resp = req.response();
    RangeHeader.Result r = RangeHeader.evaluate(range, size);
    if ((r instanceof RangeHeader.Partial p && !p.isSingle()) || (r instanceof RangeHeader.Whole && ex.isOllamaResolution())
        || (req.isSSL() && (r instanceof RangeHeader.Whole || r instanceof RangeHeader.Partial))) {
      // several ranges (no sendfile for multipart), Ollama's resolution GET, whose body waits (serveSource), or TLS,
      // where Vert.x's sendFile falls back to 8 KiB chunks, each its own write, flush and TLS wrap (see serveSource)
      FileSource source;
      try {
        source = new FileSource(path, io);
      } catch (IOException e) {
        Responses.error(resp, new RegistryException(ErrorCode.INTERNAL_ERROR, "opening " + digest.shortHex() + ": " + e, e), false);
        return;
      }
      serveSource(ex, source, size, range, digest, MetricsRecorder.Source.CACHE);
      return;
    }
    ByteRange send;
    if (r instanceof RangeHeader.Partial p) {
      send = p.ranges().get(0);
      resp.setStatusCode(206).putHeader("Content-Range", send.contentRange(size));
    } else if (r instanceof RangeHeader.Whole) {
      send = size == 0 ? null : new ByteRange(0, size - 1);
      resp.setStatusCode(200).putHeader("Location", selfUrl(ex));
    } else {
      unsatisfiable(resp, r, size);
      return;
    }
    resp.putHeader("Content-Type", "application/octet-stream");
    if (send == null) {
      resp.putHeader("Content-Length", "0").end();
      return;
    }
    resp.putHeader("Content-Length", Long.toString(send.length()));
    long length = send.length();
    resp.sendFile(path.toString(), send.first(), length).onComplete(ar -> {
      if (ar.succeeded()) {
        metrics.servedBytes(MetricsRecorder.Source.CACHE, length);
      }
      // when the client hangs up mid-file (Ollama does, after the headers of its URL-resolution GET) the send fails
      // and Vert.x calls neither the response's end handler (it did not end well) nor its close handler (it already
      // counts as ended): without this the exchange never ends and the blob's lease is held for good
      ex.finish();
    });
  }

  /**
   * Answers a GET with {@code source}'s bytes: 200 with the whole blob, 206 with one range or several
   * ({@code multipart/byteranges}), 416 for a range that cannot be satisfied.
   */
  void serveSource(Exchange ex, ByteSource source, long size, String range, Digest digest, MetricsRecorder.Source tag) {
    HttpServerRequest req = ex.request;
    HttpServerResponse resp = req.response();
    RangeHeader.Result r = RangeHeader.evaluate(range, size);
    List<BodyWriter.Part> parts = new ArrayList<>();
    Buffer trailer = null;
    long length;
    if (r instanceof RangeHeader.Whole) {
      resp.setStatusCode(200).putHeader("Location", selfUrl(ex)).putHeader("Content-Type", "application/octet-stream");
      if (size > 0) {
        parts.add(new BodyWriter.Part(null, 0, size));
      }
      length = size;
    } else if (r instanceof RangeHeader.Partial p && p.isSingle()) {
      ByteRange one = p.ranges().get(0);
      resp.setStatusCode(206).putHeader("Content-Range", one.contentRange(size)).putHeader("Content-Type", "application/octet-stream");
      parts.add(new BodyWriter.Part(null, one.first(), one.length()));
      length = one.length();
    } else if (r instanceof RangeHeader.Partial p) {
      String boundary = "pullmesh-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
      length = 0;
      for (int i = 0; i < p.ranges().size(); i++) {
        ByteRange one = p.ranges().get(i);
        String head = (i == 0 ? "" : "\r\n") + "--" + boundary + "\r\nContent-Type: application/octet-stream\r\nContent-Range: "
            + one.contentRange(size) + "\r\n\r\n";
        Buffer prefix = Buffer.buffer(head.getBytes(StandardCharsets.US_ASCII));
        parts.add(new BodyWriter.Part(prefix, one.first(), one.length()));
        length += prefix.length() + one.length();
      }
      trailer = Buffer.buffer(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.US_ASCII));
      length += trailer.length();
      resp.setStatusCode(206).putHeader("Content-Type", "multipart/byteranges; boundary=" + boundary);
    } else {
      source.close();
      unsatisfiable(resp, r, size);
      return;
    }
    resp.putHeader("Content-Length", Long.toString(length));
    BodyWriter writer = new BodyWriter(ex, source, parts, trailer, metrics, tag);
    if (r instanceof RangeHeader.Whole && ex.isOllamaResolution() && length > 0) {
      // server/download.go reads the status and Location of this GET and hangs up (it never reads the body): the
      // headers go now, the body a moment later, so a client that hangs up at once is sent none of it (issue 15: up to
      // 1 MiB of a blob crossed the wire per resolution before the hang-up reached the server). Anyone else with
      // Ollama's User-Agent who does read it gets it RESOLUTION_BODY_DELAY_MS later.
      resp.writeHead();
      vertx.setTimer(RESOLUTION_BODY_DELAY_MS, id -> writer.start());
      return;
    }
    writer.start();
  }

  private static void unsatisfiable(HttpServerResponse resp, RangeHeader.Result r, long size) {
    String why = r instanceof RangeHeader.Invalid inv
        ? "Range header not understood: " + inv.reason()
        : "no requested range overlaps the blob of " + size + " bytes";
    resp.putHeader("Content-Range", "bytes */" + size);
    Responses.error(resp, new RegistryException(ErrorCode.RANGE_NOT_SATISFIABLE, why), false);
  }

  /**
   * A committed file read in chunks on the io executor, where sendfile cannot help: multipart responses, and TLS (Vert.x's
   * sendFile over TLS writes 8 KiB chunks, each its own write, flush and TLS wrap).
   */
  private static final class FileSource implements ByteSource {
    private final FileChannel channel;
    private final Executor io;
    private final Vertx vertx = Vertx.currentContext().owner();

    FileSource(Path path, Executor io) throws IOException {
      this.channel = FileChannel.open(path, StandardOpenOption.READ);
      this.io = io;
    }

    @Override
    public Future<Chunk> read(long position, int max) {
      var ctx = vertx.getOrCreateContext();
      Promise<Chunk> p = Promise.promise();
      io.execute(() -> {
        try {
          Chunk c = Chunk.read(channel, position, max);
          ctx.runOnContext(v -> p.complete(c));
        } catch (IOException e) {
          ctx.runOnContext(v -> p.fail(e));
        }
      });
      return p.future();
    }

    @Override
    public Future<?> verified() {
      return Future.succeededFuture();
    }

    @Override
    public void close() {
      io.execute(() -> {
        try {
          channel.close();
        } catch (IOException e) {
          // read-only channel: nothing was pending
        }
      });
    }
  }

}
