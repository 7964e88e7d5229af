package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.metrics.MeterNames;
import io.pullmesh.proxy.CompatibilityRecorder.Mode;
import io.pullmesh.testkit.Waits;
import io.pullmesh.testkit.model.FakeBlob;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.DistributionRegistry;
import io.pullmesh.testkit.registry.FakeRegistry;
import io.pullmesh.testkit.tools.ExternalTool;
import io.pullmesh.testkit.tools.Tools;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.testcontainers.containers.Container;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.utility.DockerImageName;

/**
 * The real {@code ollama/ollama} image pulls through pullmesh as a registry mirror, by a host-qualified name:
 * {@code ollama pull --insecure host.testcontainers.internal:<port>/library/tiny:latest}, exactly as the README
 * tells users to. The container reaches pullmesh (in this JVM) through Testcontainers' host-port tunnel; pullmesh
 * fills its cache from an upstream on this machine: the testkit's fake registry.ollama.ai (307s to a CDN on
 * another host name) or the real distribution registry ({@code docker-registry}, plain 200s), so nothing leaves
 * it. Each pull is done cold, then again after {@code ollama rm} (which deletes the blobs), warm.
 *
 * <p>Skipped where no Docker engine is available. The image is {@code ollama/ollama:0.5.7} unless the system
 * property {@code pullmesh.ollama.image} names another.
 */
@Testcontainers(disabledWithoutDocker = true)
class OllamaImageMirrorTest {
  @TempDir Path dir;

  @RegisterExtension final CompatibilityRecorder compat = new CompatibilityRecorder();

  private static FakeModel model(Path dir, String repository) {
    return ModelFixture.of(repository, "latest").layer(MediaTypes.MODEL, 8L << 20).layer(MediaTypes.TEMPLATE, 311)
        .layer(MediaTypes.PARAMS, 97).seed(77).create(dir.resolve("model"));
  }

  @Test
  void ollamaPullsFromTheFakeRegistryThroughPullmeshByAHostQualifiedNameColdThenWarm() throws Exception {
    FakeModel model = model(dir, "library/tiny");
    try (FakeRegistry upstream = FakeRegistry.start(model)) {
      pullColdThenWarm(model, upstream.registryUrl(), () -> upstream.stats().blobBytes(), "testkit fake registry.ollama.ai (307 to a CDN)");
    }
  }

  @Test
  void ollamaPullsFromTheDistributionRegistryThroughPullmeshByAHostQualifiedNameColdThenWarm() throws Exception {
    Path exe = Tools.requireTool(ExternalTool.DOCKER_REGISTRY);
    FakeModel model = model(dir, "library/tiny");
    try (DistributionRegistry upstream = DistributionRegistry.builder().executable(exe).start(dir.resolve("registry"))) {
      upstream.push(model);
      LongSupplier sent = () -> model.blobs().stream().mapToLong(b -> upstream.blobBytesSent(b.digest())).sum();
      pullColdThenWarm(model, upstream.url(), sent, "docker-registry " + DistributionRegistry.version(exe) + ", open");
    }
  }

  private void pullColdThenWarm(FakeModel model, String upstreamUrl, LongSupplier upstreamBlobBytes, String upstreamLabel) throws Exception {
    try (PullmeshProxy proxy = PullmeshProxy.start(Harness.config(upstreamUrl, dir.resolve("cache")), Harness.testFetchConfig(8),
        Clock.systemUTC())) {
      org.testcontainers.Testcontainers.exposeHostPorts(proxy.port());
      String image = System.getProperty("pullmesh.ollama.image", "ollama/ollama:0.5.7");
      String name = "host.testcontainers.internal:" + proxy.port() + "/" + model.reference();
      try (GenericContainer<?> ollama = new GenericContainer<>(DockerImageName.parse(image))
          .withExposedPorts(11434)
          .waitingFor(Wait.forHttp("/").forPort(11434).withStartupTimeout(Duration.ofMinutes(2)))) {
        ollama.start();

        Container.ExecResult cold = ollama.execInContainer("ollama", "pull", "--insecure", name);
        assertEquals(0, cold.getExitCode(), cold.getStdout() + cold.getStderr());
        assertTrue((cold.getStdout() + cold.getStderr()).contains("success"), cold.getStdout() + cold.getStderr());
        Waits.awaitTrue(() -> proxy.downloads().activeCount() == 0, "downloads finished");
        for (FakeBlob b : model.blobs()) {
          Waits.awaitTrue(() -> proxy.store().lookup(b.digest()).isPresent(), b.digest() + " cached");
        }
        Waits.awaitTrue(() -> upstreamBlobBytes.getAsLong() >= model.totalBytes(), "upstream sent the model");
        long upstreamBytes = upstreamBlobBytes.getAsLong();
        assertTrue(upstreamBytes <= model.totalBytes() * 1.02 + 16, "upstream carried " + upstreamBytes + " for " + model.totalBytes());

        Container.ExecResult list = ollama.execInContainer("ollama", "list");
        assertTrue(list.getStdout().contains(name), list.getStdout());

        Container.ExecResult rm = ollama.execInContainer("ollama", "rm", name);
        assertEquals(0, rm.getExitCode(), rm.getStdout() + rm.getStderr());
        double hits = blobRequests(proxy, "hit");
        Container.ExecResult warm = ollama.execInContainer("ollama", "pull", "--insecure", name);
        assertEquals(0, warm.getExitCode(), warm.getStdout() + warm.getStderr());
        assertTrue(ollama.execInContainer("ollama", "list").getStdout().contains(name));
        Waits.awaitTrue(() -> blobRequests(proxy, "hit") > hits, "the warm pull was served from pullmesh's cache");
        assertEquals(upstreamBytes, upstreamBlobBytes.getAsLong(), "the warm pull fetched nothing upstream");

        compat.row("ollama (ollama/ollama image)", image.substring(image.indexOf(':') + 1), Mode.MIRROR, upstreamLabel,
            "ollama pull --insecure <host:port>/library/tiny:latest cold, ollama list, ollama rm, warm pull from pullmesh's cache;"
                + " upstream carried the model once");
      }
    }
  }

  private static double blobRequests(PullmeshProxy proxy, String result) {
    return proxy.meterRegistry().find(MeterNames.BLOB_REQUESTS).tag("result", result).counters().stream().mapToDouble(c -> c.count()).sum();
  }
}
