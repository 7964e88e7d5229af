package io.pullmesh.testkit.client;

import io.pullmesh.core.Digest;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.GZIPInputStream;

/**
 * One {@code transfer.Download} call: x/transfer/download.go's {@code downloader}, function by function
 * ({@code download}, {@code (*downloader).download}, {@code downloadOnce}, {@code resolve}, {@code save},
 * {@code copy}, {@code speedTracker}). See {@link XTransferLikeClient} for the behaviour and its citations.
 */
final class XTransferDownload {
  /** {@code context.Canceled}: the errgroup's context, after another blob failed. */
  static final class Canceled extends IOException {
    private static final long serialVersionUID = 1L;

    Canceled() {
      super("context canceled");
    }
  }

  /** {@code errStalled} (x/transfer/download.go:25). */
  static final class Stalled extends IOException {
    private static final long serialVersionUID = 1L;

    Stalled() {
      super("download stalled");
    }
  }

  /** {@code errSlow} (x/transfer/download.go:26). */
  static final class Slow extends IOException {
    private static final long serialVersionUID = 1L;

    Slow() {
      super("download too slow");
    }
  }

  /** Where real Ollama dereferences a nil URL and the process dies; here the whole download fails at once. */
  static final class Panic extends IOException {
    private static final long serialVersionUID = 1L;

    Panic(String detail) {
      super("panic: runtime error: invalid memory address or nil pointer dereference (" + detail + ")");
    }
  }

  /** Counters of one blob, shared by its attempts. */
  static final class BlobState {
    final XTransferBlob blob;
    final AtomicLong bytes = new AtomicLong();
    final AtomicLong resolveBytes = new AtomicLong();
    final AtomicInteger attempts = new AtomicInteger();
    final AtomicInteger stalls = new AtomicInteger();
    final AtomicInteger slow = new AtomicInteger();
    volatile boolean alreadyPresent;
    volatile long resumedFrom;
    volatile String finalUrl;
    volatile String lastError;
    volatile long startedAt;
    volatile long endedAt;

    BlobState(XTransferBlob blob) {
      this.blob = blob;
    }

    XTransferBlobResult result(long now) {
      long start = startedAt == 0 ? now : startedAt;
      long end = endedAt == 0 ? now : endedAt;
      return new XTransferBlobResult(blob.digest(), blob.size(), alreadyPresent, bytes.get(), resolveBytes.get(),
          attempts.get(), stalls.get(), slow.get(), resumedFrom, finalUrl, lastError,
          Duration.ofNanos(Math.max(0, end - start)));
    }
  }

  private final HttpClient http;
  private final XTransferOptions options;
  private final XTransferAuth auth;
  private final String baseUrl;
  private final String baseHost;
  private final String repository;
  private final Path destDir;
  private final ScheduledExecutorService watchdogs;
  private final Semaphore bodySem;
  private final SpeedTracker speeds = new SpeedTracker();
  private final AtomicReference<IOException> firstError = new AtomicReference<>();
  private final CountDownLatch cancelled = new CountDownLatch(1);
  private final Set<InputStream> open = ConcurrentHashMap.newKeySet();

  XTransferDownload(HttpClient http, XTransferOptions options, XTransferAuth auth, String baseUrl, String repository,
      Path destDir, ScheduledExecutorService watchdogs) {
    this.http = http;
    this.options = options;
    this.auth = auth;
    this.baseUrl = baseUrl;
    this.baseHost = Redirects.host(URI.create(baseUrl));
    this.repository = repository == null || repository.isEmpty() ? "library/_" : repository;
    this.destDir = destDir;
    this.watchdogs = watchdogs;
    this.bodySem = new Semaphore(Math.max(1, options.bodyConcurrency), true);
  }

  /** {@code digestToPath} (x/transfer/transfer.go:171-176): {@code sha256:abc} becomes {@code sha256-abc}. */
  static String digestToPath(Digest d) {
    String s = d.toString();
    return s.length() > 7 && s.charAt(6) == ':' ? s.substring(0, 6) + "-" + s.substring(7) : s;
  }

  /**
   * {@code download} (x/transfer/download.go:91-164): skip blobs already there with the right size, then one task
   * per blob, at most {@code concurrency} at once; the first failure cancels the rest (errgroup), and is returned
   * once every task has finished.
   */
  List<BlobState> run(List<XTransferBlob> blobs) throws XTransferException {
    List<BlobState> states = new ArrayList<>();
    List<BlobState> todo = new ArrayList<>();
    for (XTransferBlob b : blobs) {
      BlobState s = new BlobState(b);
      states.add(s);
      try {
        if (Files.size(destDir.resolve(digestToPath(b.digest()))) == b.size()) {
          s.alreadyPresent = true;
          continue;
        }
      } catch (IOException e) {
        // os.Stat failed: not there
      }
      todo.add(s);
    }
    if (todo.isEmpty()) {
      return states;
    }
    ExecutorService pool = Executors.newFixedThreadPool(Math.min(options.concurrency, todo.size()), Daemons.named("xtransfer-blob"));
    try {
      List<Future<?>> tasks = new ArrayList<>();
      for (BlobState s : todo) {
        tasks.add(pool.submit(() -> {
          s.startedAt = now();
          try {
            if (cancelled.getCount() == 0) {
              throw new Canceled(); // sem.Acquire(ctx) on a cancelled context
            }
            download(s);
          } catch (IOException e) {
            s.lastError = e.getMessage();
            fail(e);
          } finally {
            s.endedAt = now();
          }
        }));
      }
      for (Future<?> t : tasks) {
        t.get();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      fail(new Canceled());
    } catch (ExecutionException e) {
      fail(new IOException(String.valueOf(e.getCause()), e.getCause()));
    } finally {
      pool.shutdownNow();
    }
    IOException err = firstError.get();
    if (err != null) {
      long now = now();
      throw new XTransferException(err.getMessage(), err, states.stream().map(s -> s.result(now)).toList());
    }
    return states;
  }

  private void fail(IOException e) {
    if (firstError.compareAndSet(null, e)) {
      cancelled.countDown();
      for (InputStream in : open) {
        closeQuietly(in);
      }
    }
  }

  /**
   * {@code (*downloader).download} (x/transfer/download.go:166-215): up to {@code maxRetries} counted attempts,
   * backoff before each retry, a small blob's {@code .tmp} removed after a failure, stalls not counted, slow
   * restarts counted from the third on.
   */
  private void download(BlobState s) throws IOException {
    IOException last = null;
    int slowRetries = 0;
    int attempt = 0;
    while (attempt < options.maxRetries) {
      if (attempt > 0) {
        backoff(attempt, Duration.ofSeconds(1).toNanos() << (attempt - 1));
      }
      long start = now();
      try {
        downloadOnce(s);
        if (s.blob.size() >= options.smallBlobSpeedThreshold) {
          double secs = (now() - start) / 1e9;
          if (secs > 0) {
            speeds.record(s.blob.size() / secs);
          }
        }
        return;
      } catch (Panic e) {
        throw e; // the Go process would be gone: nothing is cleaned up
      } catch (IOException err) {
        s.lastError = err.getMessage();
        if (s.blob.size() < options.resumeThreshold) {
          deleteQuietly(tmpOf(s.blob));
        }
        if (err instanceof Canceled) {
          throw err;
        } else if (err instanceof Stalled) {
          s.stalls.incrementAndGet();
        } else if (err instanceof Slow) {
          s.slow.incrementAndGet();
          if (++slowRetries >= 3) {
            attempt++;
          }
        } else {
          attempt++;
        }
        last = err;
      }
    }
    throw new IOException("max retries exceeded: " + (last == null ? "" : last.getMessage()), last);
  }

  /** {@code backoff} (x/transfer/transfer.go:219-236): min(n² × 10 ms, max) × U[0.5, 1.5). */
  private void backoff(int attempt, long maxNanos) throws IOException {
    if (cancelled.getCount() == 0) {
      throw new Canceled();
    }
    long d = Math.min((long) attempt * attempt * 10_000_000L, maxNanos);
    d = (long) (d * (ThreadLocalRandom.current().nextDouble() + 0.5));
    try {
      if (cancelled.await(d, TimeUnit.NANOSECONDS)) {
        throw new Canceled();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Canceled();
    }
  }

  /**
   * {@code downloadOnce} (x/transfer/download.go:217-281): body slot, resolve, resume check, one GET, 200 or 206,
   * save; the body is drained and closed whatever happened.
   */
  private void downloadOnce(BlobState s) throws IOException {
    s.attempts.incrementAndGet();
    acquireBody();
    try {
      URI u = resolve(s, URI.create(baseUrl + "/v2/" + repository + "/blobs/" + s.blob.digest()));

      Path tmp = tmpOf(s.blob);
      long existingSize = 0;
      if (s.blob.size() >= options.resumeThreshold) {
        try {
          long size = Files.size(tmp);
          if (size < s.blob.size()) {
            existingSize = size;
          } else if (size > s.blob.size()) {
            deleteQuietly(tmp);
          }
          // size == blob.Size: existingSize stays 0, so the blob is fetched again from byte 0
        } catch (IOException e) {
          // no .tmp
        }
      }

      HttpRequest.Builder b = HttpRequest.newBuilder(u).GET().header("User-Agent", options.userAgent);
      String token = auth.token();
      if (Redirects.host(u).equals(baseHost) && !token.isEmpty()) {
        b.header("Authorization", "Bearer " + token);
      }
      boolean askedGzip = existingSize <= 0;
      if (existingSize > 0) {
        b.header("Range", "bytes=" + existingSize + "-");
      } else {
        b.header("Accept-Encoding", "gzip"); // Go's transport adds it to a GET without Range (and undoes it)
      }
      HttpResponse<InputStream> resp = send(b.build());
      InputStream body = track(resp.body(), s, false);
      try {
        switch (resp.statusCode()) {
          case 200 -> existingSize = 0;
          case 206 -> { }
          default -> throw new IOException("status " + resp.statusCode());
        }
        s.finalUrl = u.toString();
        s.resumedFrom = resp.statusCode() == 206 ? existingSize : 0;
        boolean gzip = askedGzip
            && resp.headers().firstValue("content-encoding").map(v -> v.equalsIgnoreCase("gzip")).orElse(false);
        InputStream in = gzip ? new GZIPInputStream(new NonClosing(body)) : body;
        save(s, in, body, existingSize);
      } finally {
        drainAndClose(body);
      }
    } finally {
      bodySem.release();
    }
  }

  /** {@code holdBody} (x/transfer/download.go:81-89): a FIFO slot, given up on if the group is cancelled. */
  private void acquireBody() throws IOException {
    try {
      while (!bodySem.tryAcquire(20, TimeUnit.MILLISECONDS)) {
        if (cancelled.getCount() == 0) {
          throw new Canceled();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Canceled();
    }
    if (cancelled.getCount() == 0) {
      bodySem.release();
      throw new Canceled();
    }
  }

  /**
   * {@code resolve} (x/transfer/download.go:397-440): up to 10 GETs; every body drained; 200 is the answer (the
   * same URL, fetched again by the caller); 401 refreshes the token; 301/302/307 to another host:port is the
   * answer (not requested here), to the same host:port is followed; anything else is {@code status N}.
   */
  private URI resolve(BlobState s, URI start) throws IOException {
    URI u = start;
    for (int i = 0; i < 10; i++) {
      HttpRequest.Builder b = HttpRequest.newBuilder(u).GET().header("User-Agent", options.userAgent)
          .header("Accept-Encoding", "gzip");
      String prev = auth.token();
      if (!prev.isEmpty()) {
        b.header("Authorization", "Bearer " + prev);
      }
      HttpResponse<InputStream> resp = send(b.build());
      drainAndClose(track(resp.body(), s, true));
      int status = resp.statusCode();
      switch (status) {
        case 200 -> {
          return u;
        }
        case 401 -> {
          if (!options.tokenRefresh) {
            throw new IOException("unauthorized");
          }
          XTransferAuth.Challenge ch =
              XTransferAuth.Challenge.parseTransfer(resp.headers().firstValue("www-authenticate").orElse(""));
          auth.refresh(ch, prev, baseHost);
        }
        case 307, 302, 301 -> {
          String location = resp.headers().firstValue("location").orElse(null);
          URI loc;
          try {
            loc = location == null ? null : u.resolve(location);
          } catch (IllegalArgumentException e) {
            loc = null;
          }
          if (loc == null) {
            throw new Panic("x/transfer/download.go:431: " + status + " from " + u + " with "
                + (location == null ? "no Location" : "unparsable Location " + location));
          }
          if (!Redirects.host(loc).equals(Redirects.host(u))) {
            return loc;
          }
          u = loc;
        }
        default -> throw new IOException("status " + status);
      }
    }
    throw new IOException("too many redirects");
  }

  /**
   * {@code save} (x/transfer/download.go:283-338): resume re-hashes the {@code .tmp}'s first existingSize bytes
   * and appends; otherwise create/truncate; copy; digest check, then size check (both remove the {@code .tmp});
   * rename.
   */
  private void save(BlobState s, InputStream in, InputStream raw, long existingSize) throws IOException {
    Path tmp = tmpOf(s.blob);
    Path dest = destDir.resolve(digestToPath(s.blob.digest()));
    try {
      Files.createDirectories(destDir);
    } catch (IOException e) {
      // os.MkdirAll's error is ignored
    }
    MessageDigest h = sha256();
    FileChannel f = null;
    if (existingSize > 0) {
      try {
        f = FileChannel.open(tmp, StandardOpenOption.READ, StandardOpenOption.WRITE);
      } catch (IOException e) {
        existingSize = 0;
      }
      if (f != null && !hashPrefix(f, h, existingSize)) {
        closeQuietly(f);
        deleteQuietly(tmp);
        existingSize = 0;
        f = null;
      }
    }
    if (existingSize == 0) {
      f = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING);
    }
    long n;
    try (FileChannel file = f) {
      n = copy(file, in, raw, h);
    }
    if (!Digest.ofBytes(h.digest()).equals(s.blob.digest())) {
      deleteQuietly(tmp);
      throw new IOException("digest mismatch");
    }
    if (existingSize + n != s.blob.size()) {
      deleteQuietly(tmp);
      throw new IOException("size mismatch");
    }
    Files.move(tmp, dest, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /** {@code io.CopyN(h, f, existingSize)}: false when the file has fewer bytes (h keeps what it got, as in Go). */
  private static boolean hashPrefix(FileChannel f, MessageDigest h, long size) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(256 * 1024);
    long left = size;
    while (left > 0) {
      buf.clear().limit((int) Math.min(buf.capacity(), left));
      int r = f.read(buf);
      if (r < 0) {
        return false;
      }
      buf.flip();
      h.update(buf);
      left -= r;
    }
    return true;
  }

  /**
   * {@code copy} (x/transfer/download.go:340-395): 32 KiB reads, file and hash written inline; a watchdog ticks
   * every {@code watchdogInterval}: no byte for more than the stall timeout is "download stalled"; past
   * {@code slowCheckAfter}, a rate below 10% of the median of recent blobs is "download too slow". The watchdog
   * only sets the cause, checked before each read (faithful: a blocked read is not interrupted) unless
   * {@code abortStalledReads}.
   */
  private long copy(FileChannel dst, InputStream src, InputStream raw, MessageDigest h) throws IOException {
    long start = now();
    AtomicLong lastRead = new AtomicLong(start);
    AtomicLong n = new AtomicLong();
    AtomicReference<IOException> cause = new AtomicReference<>();
    long stallNanos = options.stallTimeout.toNanos();
    long slowAfter = options.slowCheckAfter.toNanos();
    AtomicReference<ScheduledFuture<?>> self = new AtomicReference<>();
    ScheduledFuture<?> watchdog = watchdogs.scheduleAtFixedRate(() -> {
      if (cause.get() != null) {
        return;
      }
      long t = now();
      IOException c = null;
      if (t - lastRead.get() > stallNanos) {
        c = new Stalled();
      } else if (t - start > slowAfter) {
        double m = speeds.median();
        if (m > 0 && n.get() / ((t - start) / 1e9) < m * 0.1) {
          c = new Slow();
        }
      }
      if (c != null && cause.compareAndSet(null, c)) {
        if (options.abortStalledReads) {
          closeQuietly(raw);
        }
        ScheduledFuture<?> f = self.get();
        if (f != null) {
          f.cancel(false);
        }
      }
    }, options.watchdogInterval.toNanos(), options.watchdogInterval.toNanos(), TimeUnit.NANOSECONDS);
    self.set(watchdog);
    byte[] buf = new byte[32 * 1024];
    try {
      while (true) {
        checkCause(cause);
        int nr;
        try {
          nr = src.read(buf);
        } catch (IOException e) {
          checkCause(cause);
          throw e;
        }
        if (nr > 0) {
          lastRead.set(now());
          write(dst, buf, nr);
          h.update(buf, 0, nr);
          n.addAndGet(nr);
        }
        if (nr < 0) {
          checkCause(cause); // a body closed by a cancel reads as EOF in the JDK
          return n.get();
        }
      }
    } finally {
      watchdog.cancel(false);
    }
  }

  private void checkCause(AtomicReference<IOException> cause) throws IOException {
    if (cancelled.getCount() == 0) {
      throw new Canceled();
    }
    IOException c = cause.get();
    if (c != null) {
      throw c;
    }
  }

  /** {@code dst.Write(buf[:nr])} with its error ignored, as at x/transfer/download.go:383. */
  private static void write(FileChannel dst, byte[] buf, int len) {
    ByteBuffer b = ByteBuffer.wrap(buf, 0, len);
    try {
      while (b.hasRemaining()) {
        dst.write(b);
      }
    } catch (IOException e) {
      // ignored, like Go's unchecked Write
    }
  }

  private HttpResponse<InputStream> send(HttpRequest request) throws IOException {
    if (cancelled.getCount() == 0) {
      throw new Canceled();
    }
    try {
      return http.send(request, HttpResponse.BodyHandlers.ofInputStream());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Canceled();
    } catch (IOException e) {
      if (cancelled.getCount() == 0) {
        throw new Canceled();
      }
      throw new IOException("Get \"" + request.uri() + "\": " + e, e);
    }
  }

  /** Counts body bytes into the blob's counters and registers the stream so a group cancel can close it. */
  private InputStream track(InputStream body, BlobState s, boolean resolve) {
    InputStream counted = new FilterInputStream(body) {
      @Override
      public int read() throws IOException {
        int b = super.read();
        if (b >= 0) {
          add(1);
        }
        return b;
      }

      @Override
      public int read(byte[] buf, int off, int len) throws IOException {
        int r = super.read(buf, off, len);
        if (r > 0) {
          add(r);
        }
        return r;
      }

      private void add(long k) {
        s.bytes.addAndGet(k);
        if (resolve) {
          s.resolveBytes.addAndGet(k);
        }
      }

      @Override
      public void close() throws IOException {
        open.remove(this);
        super.close();
      }
    };
    open.add(counted);
    if (cancelled.getCount() == 0) {
      closeQuietly(counted);
    }
    return counted;
  }

  /** {@code io.Copy(io.Discard, resp.Body); resp.Body.Close()}: no timeout, no watchdog. */
  private void drainAndClose(InputStream body) throws IOException {
    try {
      body.transferTo(OutputStream.nullOutputStream());
    } catch (IOException e) {
      if (cancelled.getCount() == 0) {
        closeQuietly(body);
        throw new Canceled();
      }
      // Go ignores io.Copy's error here
    } finally {
      closeQuietly(body);
    }
  }

  private Path tmpOf(XTransferBlob b) {
    return destDir.resolve(digestToPath(b.digest()) + ".tmp");
  }

  private long now() {
    return options.ticker.nanos();
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (NoSuchFileException e) {
      // gone
    } catch (IOException e) {
      // os.Remove's error is ignored
    }
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception e) {
      // best effort
    }
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Keeps GZIPInputStream from closing the raw body before it is drained. */
  private static final class NonClosing extends FilterInputStream {
    NonClosing(InputStream in) {
      super(in);
    }

    @Override
    public void close() {}
  }

  /** {@code speedTracker} (x/transfer/download.go:442-466): last 30 samples; median needs at least 5. */
  static final class SpeedTracker {
    private final List<Double> speeds = new ArrayList<>();

    synchronized void record(double v) {
      speeds.add(v);
      if (speeds.size() > 30) {
        speeds.remove(0);
      }
    }

    synchronized double median() {
      if (speeds.size() < 5) {
        return 0;
      }
      List<Double> sorted = new ArrayList<>(speeds);
      sorted.sort(null);
      return sorted.get(sorted.size() / 2);
    }
  }
}
