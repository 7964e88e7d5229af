package io.pullmesh.loadtest.gatling;

import static io.gatling.javaapi.core.CoreDsl.atOnceUsers;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.scenario;

import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;
import io.pullmesh.loadtest.LoadTarget;
import java.util.List;

/**
 * Thundering herd: {@code clients} Ollama-like clients (default 32) pull the same cold model ({@code modelMiB},
 * default 256) at once, each with 16 ranged parts in parallel. Asserts no failed request, and that upstream
 * carried the model's blobs at most 1.02 times (read from the proxy's own counter after the herd).
 */
public class ThunderingHerdSimulation extends Simulation {
  private final LoadTarget target = LoadTarget.start("herd", 1, 256, List.of());
  private final int clients = (int) LoadTarget.longProperty("clients", 32);
  private final int parts = (int) LoadTarget.longProperty("parts", 16);
  private final LoadTarget.Model model = target.models().get(0);
  private final double before = Counters.orZero(target.upstreamBlobBytes());

  {
    ScenarioBuilder herd = scenario("thundering herd: " + clients + " clients, one cold model").exec(Pulls.pull(model, parts));
    ScenarioBuilder verify = scenario("upstream carried the model once").exec(Pulls.upstreamBlobBytesAtMost(before + Pulls.upstreamFactor() * model.totalBytes()));
    setUp(herd.injectOpen(atOnceUsers(clients)).andThen(verify.injectOpen(atOnceUsers(1))))
        .protocols(Pulls.protocol(target, parts))
        .assertions(global().failedRequests().count().is(0L));
  }

  @Override
  public void after() {
    Counters.report("herd", target, before, model.totalBytes());
    target.close();
  }
}
