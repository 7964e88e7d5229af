package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.ssl.OpenSsl;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import io.pullmesh.testkit.tools.ExternalTool;
import io.pullmesh.testkit.tools.ProcessResult;
import io.pullmesh.testkit.tools.Tools;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A large committed blob served through interception over real TLS (curl through {@code --proxy}, trusting only
 * pullmesh's CA) arrives byte-identical, whole and by ranges, with each TLS engine: BoringSSL where it loads, and
 * the JDK's engine when {@code --tls-engine jdk} turns BoringSSL off. No timings: the benchmark measures speed.
 */
class InterceptedTlsServingTest {
  private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(120);
  /** Large enough for many TLS records, write-queue stalls and several reads of the file. */
  private static final long LAYER = 40L << 20;
  @TempDir Path dir;

  @Test
  void boringSslServesALargeBlobByteIdentical() throws Exception {
    Assumptions.assumeTrue(OpenSsl.isAvailable(), () -> "BoringSSL does not load here: " + OpenSsl.unavailabilityCause());
    servesByteIdentical(TlsEngine.OPENSSL, "--tls-engine", "openssl");
  }

  @Test
  void autoChoosesBoringSslWhereItLoads() throws Exception {
    FakeModel model = model(dir);
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(4), FakeRegistry.start(model))) {
      assertEquals(OpenSsl.isAvailable() ? TlsEngine.OPENSSL : TlsEngine.JDK, h.proxy.tlsEngine());
    }
  }

  @Test
  void theJdkEngineServesALargeBlobByteIdenticalWhenBoringSslIsTurnedOff() throws Exception {
    servesByteIdentical(TlsEngine.JDK, "--tls-engine", "jdk");
  }

  private void servesByteIdentical(TlsEngine expected, String... proxyArgs) throws Exception {
    Tools.requireTool(ExternalTool.CURL);
    FakeModel model = model(dir);
    FakeBlob layer = model.largestLayer();
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(4), FakeRegistry.start(model), proxyArgs)) {
      assertEquals(expected, h.proxy.tlsEngine());
      String url = "https://registry.ollama.ai/v2/library/big/blobs/" + layer.digest();
      Path cold = dir.resolve("cold");
      ProcessResult c = curl(h, "-o", cold.toString(), url);
      assertTrue(c.succeeded(), c.describe());
      assertEquals(layer.digest(), MirrorPullTest.sha256(cold));
      h.awaitIdle();
      assertTrue(h.proxy.store().lookup(layer.digest()).isPresent(), "committed after the cold fetch");

      // warm: from the committed file, over a TLS 1.3 connection
      Path warm = dir.resolve("warm");
      ProcessResult w = curl(h, "-v", "-o", warm.toString(), url);
      assertTrue(w.succeeded(), w.describe());
      assertTrue(w.stderr().contains("X-Pullmesh-Cache: hit") || w.stderr().contains("x-pullmesh-cache: hit"), w.stderr());
      assertTrue(w.stderr().contains("SSL connection using TLSv1.3"), w.stderr());
      assertEquals(LAYER, Files.size(warm));
      assertEquals(layer.digest(), MirrorPullTest.sha256(warm), "the warm body is the blob, byte for byte");

      // one range that crosses several reads and records, and the last bytes
      long first = (3L << 20) - 7;
      long last = (19L << 20) + 12_345;
      Path part = dir.resolve("part");
      ProcessResult r = curl(h, "-r", first + "-" + last, "-o", part.toString(), url);
      assertTrue(r.succeeded(), r.describe());
      assertArrayEquals(slice(layer.file(), first, last - first + 1), Files.readAllBytes(part));
      Path tail = dir.resolve("tail");
      ProcessResult t = curl(h, "-r", "-100000", "-o", tail.toString(), url);
      assertTrue(t.succeeded(), t.describe());
      assertArrayEquals(slice(layer.file(), LAYER - 100_000, 100_000), Files.readAllBytes(tail));
    }
  }

  private static FakeModel model(Path dir) {
    return ModelFixture.of("library/big", "latest").layer(MediaTypes.MODEL, LAYER).layer(MediaTypes.TEMPLATE, 211)
        .create(dir.resolve("model"));
  }

  private static ProcessResult curl(Harness h, String... args) {
    List<String> cmd = new ArrayList<>(List.of(Tools.requireTool(ExternalTool.CURL).toString(), "-sS", "-f",
        "--proxy", "http://127.0.0.1:" + h.proxy.port(), "--cacert", h.proxy.ca().certificateFile().toString()));
    cmd.addAll(Arrays.asList(args));
    return Tools.run(TOOL_TIMEOUT, cmd);
  }

  private static byte[] slice(Path file, long first, long length) throws Exception {
    byte[] b = new byte[(int) length];
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
      f.seek(first);
      f.readFully(b);
    }
    return b;
  }
}
