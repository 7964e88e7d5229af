package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.metrics.MeterNames;
import io.pullmesh.testkit.Waits;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.testcontainers.containers.Container;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.utility.DockerImageName;
import org.testcontainers.utility.MountableFile;

/**
 * The real {@code ollama/ollama} image pulls {@code tiny} (that is, registry.ollama.ai/library/tiny:latest) with
 * {@code HTTPS_PROXY} pointing at pullmesh and pullmesh's CA as the only one it trusts, exactly as
 * docs/interception.md tells users to run it. pullmesh answers for registry.ollama.ai from the fake upstream on
 * this machine, so nothing leaves it. The container reaches pullmesh through Testcontainers' host-port tunnel
 * ({@code host.testcontainers.internal}).
 *
 * <p>Skipped where no Docker engine is available. The image is {@code ollama/ollama:0.5.7} unless the system
 * property {@code pullmesh.ollama.image} names another.
 */
@Testcontainers(disabledWithoutDocker = true)
class OllamaImageInterceptionTest {
  @TempDir Path dir;
  @RegisterExtension final CompatibilityRecorder compat = new CompatibilityRecorder();

  @Test
  void ollamaPullsThroughPullmeshByTheRealNameColdThenWarm() throws Exception {
    FakeModel model = ModelFixture.of("library/tiny", "latest").layer(MediaTypes.MODEL, 8L << 20).layer(MediaTypes.TEMPLATE, 311)
        .layer(MediaTypes.PARAMS, 97).create(dir.resolve("model"));
    try (FakeRegistry upstream = FakeRegistry.start(model);
        PullmeshProxy proxy = PullmeshProxy.start(Harness.config(upstream.registryUrl(), dir.resolve("cache")), Harness.testFetchConfig(8),
            Clock.systemUTC())) {
      org.testcontainers.Testcontainers.exposeHostPorts(proxy.port());
      String image = System.getProperty("pullmesh.ollama.image", "ollama/ollama:0.5.7");
      try (GenericContainer<?> ollama = new GenericContainer<>(DockerImageName.parse(image))
          .withCopyToContainer(MountableFile.forHostPath(proxy.ca().certificateFile()), "/pullmesh-ca/ca.crt")
          .withEnv("SSL_CERT_DIR", "/etc/ssl/certs:/pullmesh-ca")
          .withEnv("HTTPS_PROXY", "http://host.testcontainers.internal:" + proxy.port())
          .withExposedPorts(11434)
          .waitingFor(Wait.forHttp("/").forPort(11434).withStartupTimeout(Duration.ofMinutes(2)))) {
        ollama.start();

        Container.ExecResult cold = ollama.execInContainer("ollama", "pull", "tiny");
        assertEquals(0, cold.getExitCode(), cold.getStdout() + cold.getStderr());
        assertTrue((cold.getStdout() + cold.getStderr()).contains("success"), cold.getStdout() + cold.getStderr());
        Waits.awaitTrue(() -> proxy.downloads().activeCount() == 0, "downloads finished");
        long upstreamBytes = upstream.stats().blobBytes();
        assertTrue(upstreamBytes >= model.totalBytes() && upstreamBytes <= model.totalBytes() * 1.02 + 16, "upstream carried " + upstreamBytes);
        double intercepted = proxy.meterRegistry().find(MeterNames.PROXY_CONNECTS).tag("outcome", "intercepted").counters().stream()
            .mapToDouble(c -> c.count()).sum();
        assertTrue(intercepted > 0, "ollama's connections were intercepted");

        Container.ExecResult list = ollama.execInContainer("ollama", "list");
        assertTrue(list.getStdout().contains("tiny:latest"), list.getStdout());

        assertEquals(0, ollama.execInContainer("ollama", "rm", "tiny").getExitCode());
        Container.ExecResult warm = ollama.execInContainer("ollama", "pull", "tiny");
        assertEquals(0, warm.getExitCode(), warm.getStdout() + warm.getStderr());
        assertEquals(upstreamBytes, upstream.stats().blobBytes(), "the second pull came from pullmesh's cache");
        compat.row("ollama (ollama/ollama image)", image.substring(image.indexOf(':') + 1), CompatibilityRecorder.Mode.INTERCEPTION,
            "testkit fake registry.ollama.ai (307 to a CDN)", "HTTPS_PROXY and pullmesh's CA only; ollama pull tiny cold, ollama list, rm, warm pull;"
                + " upstream carried the model once");
      }
    }
  }
}
