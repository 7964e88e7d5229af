package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.RepositoryName;
import io.pullmesh.metrics.MeterNames;
import io.pullmesh.store.PartialRecord;
import io.pullmesh.store.Pin;
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
 * The disk fills up under a download (a real ENOSPC, from a small tmpfs; the cache limit is set far above it so
 * the disk, not the quota, runs out): pullmesh evicts and goes on; when nothing may be evicted the download fails
 * with a 507-class error, what it fetched is kept for resume, and cached models are still served.
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

      // now everything on the disk is pinned: the fifth cannot be stored
      for (int i = 1; i <= 3; i++) {
        pin(h, models.get(i));
      }
      FakeBlob fifth = models.get(4).largestLayer();
      String url = h.url() + "/v2/library/d4/blobs/" + fifth.digest();
      RawResponse r = RawHttp.request("GET", url, Map.of(), Duration.ofSeconds(30));
      assertFalse(r.complete() && r.status() == 200, "never a complete body: " + r);
      h.awaitIdle();
      PartialRecord kept = h.proxy.store().partial(fifth.digest()).orElseThrow(() -> new AssertionError("what was fetched is kept"));
      assertTrue(kept.done().cardinality() > 0, "some pieces are on disk");
      long before = h.upstream.stats().cdnBlobBytes(fifth.digest());
      // cached models are still served. (The failed download's last piece may still be on its way out of the fake
      // upstream, which counts bytes as it writes them, after the download ended: wait for the count to settle.)
      long up = settledBlobBytes(h.upstream);
      pull(h, models.get(1));
      assertEquals(up, h.upstream.stats().blobBytes(), "a cached model is served from the cache");

      // room again: the fifth resumes where it stopped
      h.proxy.store().catalog().unpin(RepositoryName.parse("library/d3"), "latest");
      h.proxy.space().evictNow(models.get(3).largestLayer().digest());
      RawResponse done = RawHttp.request("GET", url, Map.of(), Duration.ofSeconds(30));
      assertTrue(done.complete());
      assertArrayEquals(Files.readAllBytes(fifth.file()), done.body());
      long refetched = h.upstream.stats().cdnBlobBytes(fifth.digest()) - before;
      assertTrue(refetched < fifth.size(), "resumed: " + refetched + " of " + fifth.size() + " bytes fetched again");
    }
  }
}
