package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.metrics.MetricsRecorder;
import io.vertx.core.Vertx;
import java.net.URI;
import java.time.Clock;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class RegistryRouterTest {
  private static Vertx vertx;
  private static UpstreamRegistry ollama;
  private static UpstreamRegistry corp;
  private static UpstreamRegistry hf;
  private static RegistryRouter router;

  @BeforeAll
  static void registries() {
    vertx = Vertx.vertx();
    ollama = registry("https://registry.ollama.ai");
    corp = registry("https://registry.corp.example");
    hf = registry("https://hf.co");
    router = RegistryRouter.builder(ollama).namespace("corp", corp, "team").namespace("lab", corp, null).host("hf.co", hf).build();
  }

  private static UpstreamRegistry registry(String url) {
    return new UpstreamRegistry(vertx, URI.create(url), FetchConfig.defaults(), null, MetricsRecorder.noop(), Clock.systemUTC());
  }

  @AfterAll
  static void close() {
    vertx.close();
  }

  @Test
  void anUnqualifiedNameGoesToTheMainUpstreamAsTheClientSpelledIt() {
    UpstreamRouter.Route r = router.route(RepositoryName.parse("library/Qwen2.5"));
    assertSame(ollama, r.upstream());
    assertEquals("library/Qwen2.5", r.remote().spelled());
  }

  @Test
  void aNamespaceGoesToItsRegistryUnderTheNamespaceItMapsTo() {
    UpstreamRouter.Route r = router.route(RepositoryName.parse("Corp/Llama"));
    assertSame(corp, r.upstream());
    assertEquals("team/Llama", r.remote().spelled());
    assertEquals("lab/x", router.route(RepositoryName.parse("lab/x")).remote().spelled());
  }

  @Test
  void aHostQualifiedNameGoesToThatHostsRegistryWithoutTheHostAndWithItsCapitals() {
    UpstreamRouter.Route r = router.route(RepositoryName.parse("hf.co/bartowski/Tiny-GGUF"));
    assertSame(hf, r.upstream());
    assertEquals("bartowski/Tiny-GGUF", r.remote().spelled());
    assertTrue(router.routesHost("HF.co"));
    assertFalse(router.routesHost("registry.ollama.ai"));
  }

  @Test
  void aHostWithNoRegistrySaysHowToAddOne() {
    RegistryException e = assertThrows(RegistryException.class, () -> router.route(RepositoryName.parse("quay.io/org/model")));
    assertEquals(ErrorCode.NAME_UNKNOWN, e.code());
    assertTrue(e.getMessage().contains("--upstreams quay.io=https://quay.io"), e.getMessage());
  }
}
