package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.dockerjava.api.command.InspectContainerResponse;
import io.pullmesh.testkit.client.ClientOptions;
import io.pullmesh.testkit.client.OllamaLikeClient;
import io.pullmesh.testkit.client.PullResult;
import io.pullmesh.testkit.model.FakeModel;
import io.pullmesh.testkit.model.MediaTypes;
import io.pullmesh.testkit.model.ModelFixture;
import io.pullmesh.testkit.registry.FakeRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.testcontainers.containers.Container;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.images.builder.ImageFromDockerfile;
import org.testcontainers.junit.jupiter.Testcontainers;

/**
 * The container image, built from the repository's {@code Dockerfile} exactly as {@code docker build .} does (the
 * Maven build inside it included, with the repository's {@code .dockerignore}), started as its README and
 * docs/operations.md say, and pulled through: the container's own {@code HEALTHCHECK} must report it healthy, it runs
 * as the non-root user 10001 with its cache on the {@code /var/lib/pullmesh} volume, and an Ollama-like client pulls
 * a model through its published port byte-identical, cold (from upstream, once) and warm (from the cache).
 *
 * <p>The upstream is the testkit's fake registry.ollama.ai on this machine, which the container reaches through
 * Testcontainers' host-port tunnel ({@code host.testcontainers.internal}); it serves blobs itself (direct mode), since
 * its CDN's 127.0.0.2 would be the container's own loopback. Skipped where no Docker engine is available. Building
 * the image downloads the base images and the build's Maven dependencies: the first run takes minutes.
 */
@Testcontainers(disabledWithoutDocker = true)
class ContainerImageTest {
  @TempDir Path dir;

  /** The repository root: where the Dockerfile is, above the proxy module the tests run in. */
  static Path repositoryRoot() {
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.isRegularFile(p.resolve("Dockerfile")) && Files.isRegularFile(p.resolve("compose.yaml"))) {
        return p;
      }
    }
    throw new IllegalStateException("no Dockerfile above " + Path.of("").toAbsolutePath());
  }

  @Test
  void theImageBuiltFromTheDockerfileIsHealthyRunsUnprivilegedAndServesAModelColdThenWarm() throws Exception {
    FakeModel model = ModelFixture.of("library/tiny", "latest").layer(MediaTypes.MODEL, 8L << 20).layer(MediaTypes.TEMPLATE, 311)
        .layer(MediaTypes.PARAMS, 97).seed(91).create(dir.resolve("model"));
    try (FakeRegistry upstream = FakeRegistry.builder().directMode(true).build()) {
      upstream.addModel(model);
      upstream.start();
      org.testcontainers.Testcontainers.exposeHostPorts(upstream.registryPort());

      ImageFromDockerfile image = new ImageFromDockerfile("pullmesh-container-image-test", true)
          .withDockerfile(repositoryRoot().resolve("Dockerfile"));
      try (GenericContainer<?> pullmesh = new GenericContainer<>(image)
          .withEnv("PULLMESH_UPSTREAM", "http://host.testcontainers.internal:" + upstream.registryPort())
          .withEnv("PULLMESH_UPSTREAM_CONNECTIONS", "4")
          .withExposedPorts(9200, 9201)
          .waitingFor(Wait.forHealthcheck().withStartupTimeout(Duration.ofMinutes(3)))) {
        pullmesh.start();
        String url = "http://" + pullmesh.getHost() + ":" + pullmesh.getMappedPort(9200);

        // the HEALTHCHECK said healthy (the wait above); /healthz and /metrics answer through the published port
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(url + "/healthz")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, health.statusCode());
        assertEquals("ok", health.body().strip());
        InspectContainerResponse info = pullmesh.getContainerInfo();
        assertEquals("healthy", pullmesh.getDockerClient().inspectContainerCmd(pullmesh.getContainerId()).exec().getState().getHealth().getStatus());

        // unprivileged, the state on a volume
        Container.ExecResult id = pullmesh.execInContainer("id", "-u");
        assertEquals("10001", id.getStdout().strip(), id.getStderr());
        assertTrue(info.getMounts().stream().anyMatch(m -> m.getDestination() != null && "/var/lib/pullmesh".equals(m.getDestination().getPath())),
            "a volume at /var/lib/pullmesh: " + info.getMounts());

        try (OllamaLikeClient client = new OllamaLikeClient(ClientOptions.forTests().build())) {
          PullResult cold = client.pull(url, "library/tiny:latest", dir.resolve("ollama-cold"));
          assertEquals(model.manifestDigest(), cold.manifestDigest());
          MirrorPullTest.assertSameBlobs(model, dir.resolve("ollama-cold"));
          long upstreamBytes = upstream.stats().blobBytes();
          assertTrue(upstreamBytes >= model.totalBytes() && upstreamBytes <= model.totalBytes() * 1.02 + 16,
              "upstream carried " + upstreamBytes + " bytes for a model of " + model.totalBytes());

          Container.ExecResult cached = pullmesh.execInContainer("sh", "-c", "find /var/lib/pullmesh/cache/blobs -type f | wc -l");
          assertTrue(Integer.parseInt(cached.getStdout().strip()) >= model.blobs().size(), "blobs in the volume: " + cached.getStdout());

          PullResult warm = client.pull(url, "library/tiny:latest", dir.resolve("ollama-warm"));
          MirrorPullTest.assertSameBlobs(model, dir.resolve("ollama-warm"));
          assertEquals(cold.totalBytes(), warm.totalBytes());
          assertEquals(upstreamBytes, upstream.stats().blobBytes(), "a warm pull fetches nothing from upstream");
        }

        HttpResponse<String> metrics = http.send(HttpRequest.newBuilder(URI.create(url + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
        assertTrue(metrics.body().contains("pullmesh_"), "pullmesh's meters on /metrics");
      }
    }
  }
}
