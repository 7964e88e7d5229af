package io.pullmesh.testkit.tools;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import io.pullmesh.testkit.registry.RequestKind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.TestAbortedException;

/** Generic clients as subprocesses against the fake registry and CDN. */
class ExternalToolsTest {
  static final Duration TIMEOUT = Duration.ofSeconds(30);

  @TempDir
  static Path dir;
  static FakeModel model;
  static FakeBlob blob;
  static FakeRegistry registry;

  @TempDir
  Path out;

  @BeforeAll
  static void start() {
    model = ModelFixture.of("library/tiny", "latest").layer(MediaTypes.MODEL, 2L << 20).seed(17).create(dir);
    blob = model.largestLayer();
    registry = FakeRegistry.start(model);
  }

  @AfterAll
  static void stop() {
    registry.close();
  }

  @Test
  void curlFollowsTheRegistryRedirectToTheCdn() throws Exception {
    Path curl = Tools.requireTool("curl");
    Path file = out.resolve("blob");
    ProcessResult r = Tools.run(TIMEOUT, curl.toString(), "-sS", "-f", "-L", "-o", file.toString(),
        registry.blobUrl("library/tiny", blob.digest()));
    assertTrue(r.succeeded(), r.describe());
    assertArrayEquals(Files.readAllBytes(blob.file()), Files.readAllBytes(file));
  }

  @Test
  void curlSeesTheCdnRefuseAForwardedAuthorizationHeader() {
    Path curl = Tools.requireTool("curl");
    // --location-trusted forwards credentials across hosts: exactly what a leaky mirror would do.
    ProcessResult r = Tools.run(TIMEOUT, curl.toString(), "-sS", "-o", "/dev/null", "-w", "%{http_code}",
        "--location-trusted", "-H", "Authorization: Bearer leaked", registry.blobUrl("library/tiny", blob.digest()));
    assertEquals("400", r.stdout().strip(), r.describe());
  }

  @Test
  void aria2cFetchesTheCdnUrlInRangedPieces() throws Exception {
    Path aria2c = Tools.requireTool("aria2c");
    registry.resetCounters();
    ProcessResult r = Tools.run(TIMEOUT, aria2c.toString(), "--quiet=true", "--allow-overwrite=true",
        "--split=4", "--max-connection-per-server=4", "--min-split-size=1M", "--file-allocation=none",
        "--dir=" + out, "--out=blob", registry.signedCdnUrl(blob.digest()));
    assertTrue(r.succeeded(), r.describe());
    assertArrayEquals(Files.readAllBytes(blob.file()), Files.readAllBytes(out.resolve("blob")));
    // aria2c's first GET has no Range; once it knows the size it fetches the other pieces with ranged GETs.
    assertTrue(registry.stats().requests(RequestKind.CDN_GET_RANGED) >= 1, "aria2c split the download: "
        + registry.stats().recentRequests());
  }

  @Test
  void runCapturesOutputExitCodeAndTimeouts() {
    Path sh = Tools.requireTool("sh");
    ProcessResult ok = Tools.run(TIMEOUT, sh.toString(), "-c", "echo out; echo err >&2; exit 3");
    assertEquals(3, ok.exitCode());
    assertEquals("out\n", ok.stdout());
    assertEquals("err\n", ok.stderr());
    assertFalse(ok.succeeded());
    ProcessResult slow = Tools.run(Duration.ofMillis(200), List.of(sh.toString(), "-c", "sleep 30"));
    assertTrue(slow.timedOut());
    assertEquals(-1, slow.exitCode());
  }

  @Test
  void aMissingToolSkipsTheTestUnlessToolsAreRequired() {
    String previous = System.getProperty(Tools.REQUIRE_PROPERTY);
    try {
      System.clearProperty(Tools.REQUIRE_PROPERTY);
      TestAbortedException skipped = org.junit.jupiter.api.Assertions.assertThrows(TestAbortedException.class,
          () -> Tools.requireTool("no-such-tool-pullmesh"));
      assertTrue(skipped.getMessage().contains("no-such-tool-pullmesh is not on the PATH"), skipped.getMessage());
      System.setProperty(Tools.REQUIRE_PROPERTY, "true");
      org.junit.jupiter.api.Assertions.assertThrows(org.opentest4j.AssertionFailedError.class,
          () -> Tools.requireTool("no-such-tool-pullmesh"));
    } finally {
      if (previous == null) {
        System.clearProperty(Tools.REQUIRE_PROPERTY);
      } else {
        System.setProperty(Tools.REQUIRE_PROPERTY, previous);
      }
    }
    assertEquals(ExternalTool.CURL.available(), Tools.which("curl").isPresent());
    assertTrue(RawHttp.DEFAULT_TIMEOUT.toSeconds() > 0);
  }
}
