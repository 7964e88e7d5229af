package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.fetch.BlobDownload;
import io.pullmesh.testkit.Waits;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.http.RawHttp;
import io.pullmesh.testkit.http.RawResponse;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import io.pullmesh.testkit.tools.ProcessResult;
import io.pullmesh.testkit.tools.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The live status page at {@code /status} (and at {@code /} for browsers), rendered by real headless Chromium
 * (Debian's {@code chromium}): its script polls the admin API and fills in the cached models and the downloads in
 * progress. Each test also writes a screenshot to {@code proxy/target/status-page/}.
 */
class StatusPageTest {
  private static final Path SCREENSHOTS = Path.of("target", "status-page");
  @TempDir Path dir;

  /** Renders {@code url} in headless Chromium and returns the DOM once its script has run; saves a screenshot. */
  private String render(String url, String screenshot) throws Exception {
    Path chromium = Tools.requireTool("chromium");
    Files.createDirectories(SCREENSHOTS);
    List<String> common = List.of(chromium.toString(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        "--virtual-time-budget=4000", "--window-size=1280,900");
    // both at once, so the picture shows the same moment as the DOM (two profiles: Chromium locks its user-data-dir)
    CompletableFuture<ProcessResult> shotRun = CompletableFuture.supplyAsync(() -> Tools.run(Duration.ofSeconds(60),
        concat(common, "--user-data-dir=" + dir.resolve("chromium-shot-" + screenshot),
            "--screenshot=" + SCREENSHOTS.resolve(screenshot + ".png").toAbsolutePath(), url)));
    ProcessResult dom = Tools.run(Duration.ofSeconds(60), concat(common, "--user-data-dir=" + dir.resolve("chromium-" + screenshot), "--dump-dom", url));
    ProcessResult shot = shotRun.get();
    assertTrue(dom.succeeded(), dom.describe());
    assertTrue(shot.succeeded(), shot.describe());
    assertTrue(Files.size(SCREENSHOTS.resolve(screenshot + ".png")) > 1000, "a screenshot was written");
    return dom.stdout();
  }

  private static List<String> concat(List<String> a, String... more) {
    List<String> out = new java.util.ArrayList<>(a);
    out.addAll(List.of(more));
    return out;
  }

  @Test
  void browsersGetTheStatusPageAndScriptsGetText() {
    try (Harness h = Harness.start(dir, ModelFixture.tiny().create(dir.resolve("model")))) {
      RawResponse html = RawHttp.get(h.url() + "/", Map.of("Accept", "text/html,application/xhtml+xml"));
      assertEquals(200, html.status());
      assertTrue(html.header("Content-Type").orElse("").startsWith("text/html"), html.toString());
      assertTrue(html.bodyText().contains("/admin/v1/"), "the page polls the admin API");
      RawResponse text = RawHttp.get(h.url() + "/");
      assertTrue(text.header("Content-Type").orElse("").startsWith("text/plain"), text.toString());
      assertTrue(text.bodyText().contains("/status"), text.bodyText());
      assertTrue(RawHttp.get(h.url() + "/status").header("Content-Type").orElse("").startsWith("text/html"));
    }
  }

  @Test
  void afterAPullTheStatusPageListsTheModelAndTheHitRatio() throws Exception {
    Tools.requireTool("chromium");
    FakeModel model = ModelFixture.tiny().create(dir.resolve("model"));
    try (Harness h = Harness.start(dir, model); OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
      client.pull(h.url(), "library/tiny:latest", dir.resolve("ollama1"));
      h.awaitIdle();
      client.pull(h.url(), "library/tiny:latest", dir.resolve("ollama2"));
      String dom = render(h.url() + "/status", "after-pull");
      assertTrue(dom.contains("data-loaded=\"true\""), "the script ran and loaded the API: " + dom);
      assertTrue(dom.contains("data-name=\"library/tiny:latest\""), dom);
      assertTrue(dom.contains("nothing downloading"), dom);
      Matcher hit = Pattern.compile("id=\"hit-ratio\">([0-9.]+)%<").matcher(dom);
      assertTrue(hit.find(), dom);
      double ratio = Double.parseDouble(hit.group(1));
      assertTrue(ratio >= 40 && ratio <= 100, "the second pull was all hits: " + ratio);
    }
  }

  @Test
  void duringAPullTheStatusPageShowsItsProgress() throws Exception {
    Tools.requireTool("chromium");
    // 24 MiB through a CDN limited to 512 KiB/s per connection, 4 connections: about 12 s of downloading to look at
    // (regression: at 2 MiB/s per connection the pull was over in 3 s, before a fresh-clone run's Chromium rendered)
    FakeModel model = ModelFixture.of("library/big", "latest").layer(MediaTypes.MODEL, 24L << 20).create(dir.resolve("model"));
    FakeRegistry upstream = FakeRegistry.builder().cdnBytesPerSecond(512L << 10).build();
    upstream.addModel(model);
    upstream.start();
    try (Harness h = Harness.start(dir, Harness.testFetchConfig(4), upstream);
        OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
      CompletableFuture<Void> pull = CompletableFuture.runAsync(() -> {
        try {
          client.pull(h.url(), "library/big:latest", dir.resolve("ollama"));
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      });
      Waits.awaitTrue(() -> h.proxy.downloads().downloads().stream().mapToLong(BlobDownload::bytesDone).sum() > 0, "the download started");
      String dom = render(h.url() + "/status", "during-pull");
      Matcher row = Pattern.compile("data-digest=\"" + model.largestLayer().digest() + "\" data-progress=\"([0-9.]+)\"").matcher(dom);
      assertTrue(row.find(), "the download is listed with its progress: " + dom);
      double progress = Double.parseDouble(row.group(1));
      assertTrue(progress > 0 && progress < 1, "part way: " + progress);
      assertTrue(dom.contains("library/big"), dom);
      pull.get(120, java.util.concurrent.TimeUnit.SECONDS);
      MirrorPullTest.assertSameBlobs(model, dir.resolve("ollama"));
    }
  }
}
