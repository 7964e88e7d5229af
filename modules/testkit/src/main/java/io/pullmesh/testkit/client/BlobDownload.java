package io.pullmesh.testkit.client;

import io.pullmesh.core.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

/**
 * One blob, download.go's {@code blobDownload}: Prepare (part files from an earlier pull, else HEAD for the
 * size and a split into parts), then Run (resolve the direct URL once, up to {@code numParts} parts at once,
 * each with its tries, sleeps and stall watchdog; the first part to fail for good cancels the others), then
 * rename {@code <blob>-partial} to the blob. Verification is the caller's (after all blobs, as in Ollama).
 */
final class BlobDownload {
  /** Thrown inside a part task when another part failed first. */
  private static final class Cancelled extends IOException {
    private static final long serialVersionUID = 1L;

    Cancelled() {
      super("context canceled");
    }
  }

  private final HttpClient http;
  private final ClientOptions options;
  private final RegistryCalls calls;
  private final ExecutorService partPool;
  private final ScheduledExecutorService watchdogs;
  private final URI blobUrl;
  private final Digest digest;
  private final Path blobPath;

  private final AtomicLong received = new AtomicLong();
  private final AtomicInteger retries = new AtomicInteger();
  private final AtomicInteger stalls = new AtomicInteger();
  private final Set<PartAttempt> inFlight = ConcurrentHashMap.newKeySet();
  private final CountDownLatch cancelled = new CountDownLatch(1);
  private final AtomicReference<IOException> failure = new AtomicReference<>();
  private final long started;
  private volatile long total;
  private volatile int partCount;
  private volatile URI direct;

  BlobDownload(HttpClient http, ClientOptions options, RegistryCalls calls, ExecutorService partPool,
      ScheduledExecutorService watchdogs, URI blobUrl, Digest digest, Path blobPath) {
    this.http = http;
    this.options = options;
    this.calls = calls;
    this.partPool = partPool;
    this.watchdogs = watchdogs;
    this.blobUrl = blobUrl;
    this.digest = digest;
    this.blobPath = blobPath;
    this.started = now();
  }

  BlobResult run() throws IOException {
    List<Part> parts = prepare();
    total = parts.stream().mapToLong(p -> p.size).sum();
    partCount = parts.size();
    Path partial = blobPath.resolveSibling(blobPath.getFileName() + "-partial");
    try (RandomAccessFile raf = new RandomAccessFile(partial.toFile(), "rw")) {
      raf.setLength(total);
    }
    direct = new DirectUrlResolver(calls, options).resolve(blobUrl);
    try (FileChannel file = FileChannel.open(partial, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      runParts(parts, direct, file);
    }
    for (int i = 0; i < parts.size(); i++) {
      Files.deleteIfExists(Part.stateFile(blobPath, i));
    }
    Files.move(partial, blobPath, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    return new BlobResult(digest, total, false, received.get(), parts.size(), retries.get(), stalls.get(),
        direct.toString(), Duration.ofNanos(now() - started));
  }

  /** Parts from {@code <blob>-partial-N} files if any, else from a HEAD's Content-Length. */
  private List<Part> prepare() throws IOException {
    List<Part> parts = new ArrayList<>();
    String prefix = blobPath.getFileName() + "-partial-";
    try (Stream<Path> files = Files.list(blobPath.getParent())) {
      for (Path p : (Iterable<Path>) files::iterator) {
        String name = p.getFileName().toString();
        if (name.startsWith(prefix) && name.substring(prefix.length()).chars().allMatch(Character::isDigit)) {
          parts.add(Part.load(p));
        }
      }
    }
    if (!parts.isEmpty()) {
      parts.sort(Comparator.comparingInt(p -> p.n));
      return parts;
    }
    long headSize;
    HttpResponse<InputStream> head = calls.requestWithRetry("HEAD", blobUrl, Map.of(), RegistryCalls.Follow.ALL);
    try {
      headSize = parseLong(head.headers().firstValue("content-length").orElse(""));
    } finally {
      head.body().close();
    }
    long size = headSize / options.numParts;
    size = Math.max(options.minPartSize, Math.min(options.maxPartSize, size));
    long offset = 0;
    while (offset < headSize) {
      long s = Math.min(size, headSize - offset);
      Part part = new Part(parts.size(), offset, s, 0);
      part.save(blobPath);
      parts.add(part);
      offset += s;
    }
    return parts;
  }

  /** Go's {@code strconv.ParseInt} with the error ignored: anything unparsable is 0. */
  private static long parseLong(String s) {
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  private void runParts(List<Part> parts, URI direct, FileChannel file) throws IOException {
    Semaphore slots = new Semaphore(options.numParts);
    List<Future<?>> tasks = new ArrayList<>();
    try {
      for (Part part : parts) {
        if (part.done()) {
          continue;
        }
        slots.acquire();
        if (failure.get() != null) {
          slots.release();
          break;
        }
        tasks.add(partPool.submit(() -> {
          try {
            runPart(part, direct, file);
          } catch (IOException e) {
            if (failure.compareAndSet(null, e)) {
              cancelAll();
            }
          } finally {
            slots.release();
          }
        }));
      }
      for (Future<?> t : tasks) {
        t.get();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      cancelAll();
      throw new IOException("interrupted", e);
    } catch (ExecutionException e) {
      throw new IOException(e.getCause().getMessage(), e.getCause());
    }
    IOException f = failure.get();
    if (f != null) {
      throw f;
    }
  }

  /** The part's tries: download.go's loop inside {@code g.Go}. */
  private void runPart(Part part, URI direct, FileChannel file) throws IOException {
    IOException last = null;
    for (int attempt = 0; attempt < options.maxTries; attempt++) {
      if (cancelled.getCount() == 0) {
        throw new Cancelled();
      }
      PartAttempt a = new PartAttempt(http, direct, part, file, this);
      inFlight.add(a);
      ScheduledFuture<?> watchdog = watchdogs.scheduleAtFixedRate(() -> {
        if (!part.done() && part.checkStalled(now(), options.stallTimeout.toNanos())) {
          a.stall();
        }
      }, options.stallCheckInterval.toNanos(), options.stallCheckInterval.toNanos(), TimeUnit.NANOSECONDS);
      if (cancelled.getCount() == 0) {
        a.cancel();
      }
      PartAttempt.Outcome outcome = null;
      IOException error = null;
      try {
        outcome = a.run();
      } catch (IOException e) {
        error = e;
      } finally {
        watchdog.cancel(false);
        inFlight.remove(a);
      }
      if (error != null) {
        retries.incrementAndGet();
        last = error;
        long sleep = options.retryBaseSleep.toNanos() << Math.min(attempt, 30);
        try {
          if (cancelled.await(sleep, TimeUnit.NANOSECONDS)) {
            throw new Cancelled();
          }
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted", ie);
        }
        continue;
      }
      switch (outcome) {
        case DONE -> {
          return;
        }
        case STALLED -> {
          stalls.incrementAndGet();
          attempt--;
        }
        case CANCELLED -> throw new Cancelled();
      }
    }
    throw new IOException("max retries exceeded: " + (last == null ? "" : last.getMessage()), last);
  }

  private void cancelAll() {
    cancelled.countDown();
    for (PartAttempt a : inFlight) {
      a.cancel();
    }
  }

  void received(long n) {
    received.addAndGet(n);
  }

  long now() {
    return options.ticker.nanos();
  }

  void savePart(Part part) throws IOException {
    part.save(blobPath);
  }

  /** Counters so far, for a failed pull's report. */
  BlobResult partialResult() {
    URI d = direct;
    return new BlobResult(digest, total, false, received.get(), partCount, retries.get(), stalls.get(),
        d == null ? null : d.toString(), Duration.ofNanos(now() - started));
  }
}
