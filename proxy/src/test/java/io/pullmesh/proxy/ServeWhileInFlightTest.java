package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.fetch.BlobDownload;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.util.Arrays;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client asking for the tail of a cold blob gets those bytes as soon as they land: the pieces it waits on
 * are fetched first, and all but the final byte reach it while most of the blob is still missing. The final
 * byte follows the whole-blob digest check.
 */
class ServeWhileInFlightTest {
  @TempDir Path dir;

  @Test
  void theTailOfAColdBlobArrivesBeforeTheRestOfIt() throws Exception {
    FakeModel model = ModelFixture.of("library/tail", "latest").layer(MediaTypes.MODEL, 8L << 20).create(dir.resolve("model"));
    FakeBlob blob = model.largestLayer();
    // 4 connections of 512 KiB/s: the whole blob takes about 4 s, the last 512 KiB a fraction of that
    FakeRegistry upstream = FakeRegistry.builder().cdnBytesPerSecond(512 << 10).start().addModel(model);
    int tail = 512 << 10;
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(4).withPieceSizes(256 << 10, 256 << 10), upstream)) {
      HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      HttpRequest req = HttpRequest.newBuilder(URI.create(h.blobUrl(model, blob.digest())))
          .header("Range", "bytes=-" + tail).build();
      HttpResponse<InputStream> resp = client.send(req, HttpResponse.BodyHandlers.ofInputStream());
      assertEquals(206, resp.statusCode());
      byte[] got = new byte[tail];
      int n = 0;
      try (InputStream in = resp.body()) {
        while (n < tail - 1) {
          int r = in.read(got, n, tail - 1 - n);
          assertTrue(r > 0, "body ended early");
          n += r;
        }
        // all but the final byte are here: how much of the blob had arrived by now?
        BlobDownload d = h.proxy.downloads().downloads().stream().filter(x -> x.digest().equals(blob.digest())).findFirst()
            .orElseThrow(() -> new AssertionError("the download should still be running"));
        long done = d.bytesDone();
        assertTrue(done < blob.size() / 2, "the tail arrived when " + done + " of " + blob.size() + " bytes had landed");
        int last = in.read();
        assertTrue(last >= 0, "the final byte comes once the blob is verified");
        got[tail - 1] = (byte) last;
        assertEquals(-1, in.read());
      }
      byte[] all = Files.readAllBytes(blob.file());
      assertArrayEquals(Arrays.copyOfRange(all, all.length - tail, all.length), got);
    }
  }
}
