package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.RepositoryName;
import io.pullmesh.metrics.MeterNames;
import io.pullmesh.store.PartialRecord;
import io.pullmesh.store.Pin;
import io.pullmesh.testkit.Waits;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import io.pullmesh.testkit.tools.ProcessResult;
import io.pullmesh.testkit.tools.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A small disk (a real tmpfs; the cache limit is set far above it so the disk, not the quota, runs out): a download
 * is reserved against the disk's real free space before its first byte, evicting what the policy allows; when
 * nothing may be evicted it is refused with 507 before any byte is fetched or served, and cached models are still
 * served. A disk that other programs fill makes /healthz say degraded, and the node still restarts on it.
 */
class DiskFullTest {
  static final long MIB = 1 << 20;
  @TempDir Path dir;
  Path disk;
  boolean mounted;

  @BeforeEach
  void mountSmallDisk() throws Exception {
    disk = dir.resolve("disk");
    Files.createDirectories(disk);
    ProcessResult r = Tools.run(Duration.ofSeconds(10), "mount", "-t", "tmpfs", "-o", "size=88m", "tmpfs", disk.toString());
    if (r.exitCode() != 0) {
      String why = "needs to mount an 88 MiB tmpfs (root): " + r.stderr().strip();
      if (Boolean.getBoolean("pullmesh.require.tools")) {
        throw new AssertionError(why);
      }
      Assumptions.abort(why);
    }
    mounted = true;
  }

  @AfterEach
  void unmount() {
    if (mounted) {
      Tools.run(Duration.ofSeconds(10), "umount", "-l", disk.toString());
    }
  }

  private List<FakeModel> models(int n) {
    List<FakeModel> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(ModelFixture.of("library/d" + i, "latest").seed(700 + i).layer(MediaTypes.MODEL, 24 * MIB)
          .layer(MediaTypes.PARAMS, 100).create(dir.resolve("model-" + i)));
    }
    return out;
  }

  private void pull(Harness h, FakeModel m) throws Exception {
    Path dest = dir.resolve("client-" + m.repository().replace('/', '-'));
    try (OllamaLikeClient c = new OllamaLikeClient(ClientOptions.forTests().build())) {
      c.pull(h.url(), m.reference(), dest);
    }
    MirrorPullTest.assertSameBlobs(m, dest);
    h.awaitIdle();
  }

  /** The upstream's blob byte count once it stopped moving (two reads 300 ms apart agree; at most 10 s). */
  static long settledBlobBytes(FakeRegistry upstream) throws InterruptedException {
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
    long last = upstream.stats().blobBytes();
    while (System.nanoTime() < deadline) {
      Thread.sleep(300);
      long now = upstream.stats().blobBytes();
      if (now == last) {
        return now;
      }
      last = now;
    }
    return last;
  }

  private static void pin(Harness h, FakeModel m) {
    h.proxy.store().catalog().pin(new Pin(RepositoryName.parse(m.repository()), m.tag(), 1));
  }

  @Test
  void aFullDiskEvictsAndGoesOnAndRefusesWhenNothingCanGo() throws Exception {
    List<FakeModel> models = models(5);
    FakeRegistry upstream = FakeRegistry.builder().start();
    models.forEach(upstream::addModel);
    // small pieces, few connections: in whatever room is left when the disk fills, pieces still complete
    try (Harness h = Harness.start(disk, Harness.testFetchConfig(2).withPieceSizes(256 << 10, 256 << 10), upstream,
        "--cache-max-bytes", "1g")) {
      pull(h, models.get(0));
      pull(h, models.get(1));
      pull(h, models.get(2));
      // the fourth does not fit on the disk: a write fails with ENOSPC, pullmesh evicts, the pull goes on
      pull(h, models.get(3));
      assertTrue(h.proxy.meterRegistry().find(MeterNames.EVICTIONS).tag("reason", "disk-full").counter().count() >= 1,
          "evicted because the disk was full");
      assertTrue(h.proxy.store().lookup(models.get(0).largestLayer().digest()).isEmpty(), "the least valuable model went");

      // now everything on the disk is pinned: the fifth cannot be stored, and is refused before a byte of it is
      // fetched or served (issue 18: it used to start, fill the disk and break with a 200 under way)
      for (int i = 1; i <= 3; i++) {
        pin(h, models.get(i));
      }
      FakeBlob fifth = models.get(4).largestLayer();
      String url = h.url() + "/v2/library/d4/blobs/" + fifth.digest();
      RawResponse r = RawHttp.request("GET", url, Map.of(), Duration.ofSeconds(30));
      assertEquals(507, r.status(), "refused up front: " + r);
      h.awaitIdle();
      assertTrue(h.proxy.store().partial(fifth.digest()).isEmpty(), "nothing of it was written");
      long before = h.upstream.stats().cdnBlobBytes(fifth.digest());
      assertTrue(before <= 1, "nothing of it was fetched but the one-byte probe that found its size: " + before);
      // cached models are still served. (The failed download's last piece may still be on its way out of the fake
      // upstream, which counts bytes as it writes them, after the download ended: wait for the count to settle.)
      long up = settledBlobBytes(h.upstream);
      pull(h, models.get(1));
      assertEquals(up, h.upstream.stats().blobBytes(), "a cached model is served from the cache");

      // room again: the fifth is fetched, once
      h.proxy.store().catalog().unpin(RepositoryName.parse("library/d3"), "latest");
      h.proxy.space().evictNow(models.get(3).largestLayer().digest());
      RawResponse done = RawHttp.request("GET", url, Map.of(), Duration.ofSeconds(30));
      assertTrue(done.complete());
      assertArrayEquals(Files.readAllBytes(fifth.file()), done.body());
      long fetched = h.upstream.stats().cdnBlobBytes(fifth.digest()) - before;
      assertTrue(fetched >= fifth.size() && fetched <= fifth.size() + (1 << 20), "fetched once: " + fetched + " of " + fifth.size());
    }
  }

  /** Writes zeros to {@code file} until the disk is full (or {@code max} bytes); returns how many. */
  static long fill(Path file, long max) throws java.io.IOException {
    long n = 0;
    byte[] block = new byte[1 << 20];
    try (java.io.OutputStream out = Files.newOutputStream(file)) {
      while (n < max) {
        out.write(block);
        n += block.length;
      }
    } catch (java.io.IOException e) {
      if (!String.valueOf(e.getMessage()).contains("No space left")) {
        throw e;
      }
    }
    return n;
  }

  private static void awaitHealth(Harness h, int status, String start) throws InterruptedException {
    Waits.awaitTrue(() -> {
      RawResponse r = RawHttp.get(h.url() + "/healthz");
      return r.status() == status && r.bodyText().startsWith(start);
    }, "/healthz answers " + status + " " + start);
  }

  @Test
  void regressionADiskOtherProgramsFilledRefusesUpFrontKeepsServingRestartsAndTellsTheTruth() throws Exception {
    // issue 18, item 2: 40 MB of another program's data on a small disk; --cache-max-bytes far above the disk
    fill(disk.resolve("other-program.dat"), 32 * MIB);
    FakeModel cached = models(1).get(0);
    FakeModel big = ModelFixture.of("library/big", "latest").seed(790).layer(MediaTypes.MODEL, 48 * MIB).create(dir.resolve("big"));
    FakeRegistry upstream = FakeRegistry.builder().start();
    upstream.addModel(cached);
    upstream.addModel(big);
    List<Integer> statuses = new ArrayList<>();
    Harness h = Harness.start(disk, Harness.testFetchConfig(4), upstream, "--cache-max-bytes", "1t");
    try {
      assertTrue(h.proxy.space().limit() <= 88 * MIB, "a limit above the disk is the disk's size: " + h.proxy.space().limit());
      pull(h, cached);
      awaitHealth(h, 200, "ok");

      // a blob the disk cannot hold: 507 before any body, and nothing cached was evicted for it in vain
      String url = h.url() + "/v2/library/big/blobs/" + big.largestLayer().digest();
      RawResponse refused = RawHttp.request("GET", url, Map.of(), Duration.ofSeconds(30));
      statuses.add(refused.status());
      assertEquals(507, refused.status(), refused.toString());
      assertTrue(refused.bodyText().contains("INSUFFICIENT_STORAGE") && refused.bodyText().contains("disk holding the cache"), refused.bodyText());
      assertTrue(h.proxy.store().lookup(cached.largestLayer().digest()).isPresent(), "the cached model stayed");
      pull(h, cached);

      // the other program fills the rest: /healthz says degraded, cold blobs get 507 (never 502), the cache still serves
      Path filler = disk.resolve("filler.dat");
      fill(filler, 1L << 30);
      awaitHealth(h, 503, "degraded: the disk holding");
      RawResponse cold = RawHttp.request("GET", url, Map.of(), Duration.ofSeconds(30));
      statuses.add(cold.status());
      assertEquals(507, cold.status(), cold.toString());
      pull(h, cached);
      assertTrue(h.proxy.meterRegistry().get(MeterNames.CACHE_WRITABLE).gauge().value() == 0, "the gauge says so too");

      // the node restarts on the full disk: the ballast it kept makes room for its index
      h.proxy.close();
      Harness again = Harness.start(disk, Harness.testFetchConfig(4), FakeRegistry.start(cached, big), "--cache-max-bytes", "1t");
      h = again;
      pull(h, cached);
      awaitHealth(h, 503, "degraded");

      // room again: healthy; and once the other program's data is gone too, the big blob fits (evicting what it must)
      Files.delete(filler);
      awaitHealth(h, 200, "ok");
      Files.delete(disk.resolve("other-program.dat"));
      RawResponse ok = RawHttp.request("GET", h.url() + "/v2/library/big/blobs/" + big.largestLayer().digest(), Map.of(), Duration.ofSeconds(60));
      assertTrue(ok.complete() && ok.status() == 200, ok.toString());
      assertArrayEquals(Files.readAllBytes(big.largestLayer().file()), ok.body());
      assertFalse(statuses.contains(502), "never a 502 for the cache's own disk: " + statuses);
    } finally {
      h.close();
    }
  }
}
