package io.pullmesh.loadtest.gatling;

import static io.gatling.javaapi.core.CoreDsl.atOnceUsers;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.scenario;

import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;
import io.pullmesh.loadtest.LoadTarget;
import java.util.List;

/**
 * Warm throughput: one client warms the cache with a model ({@code modelMiB}, default 128), then {@code clients}
 * (default 64) pull it at once from the cache. Asserts no failed request and that upstream carried the model once in
 * all (the warm pulls fetched nothing).
 */
public class WarmThroughputSimulation extends Simulation {
  private final LoadTarget target = LoadTarget.start("warm", 1, 128, List.of());
  private final int clients = (int) LoadTarget.longProperty("clients", 64);
  private final int parts = (int) LoadTarget.longProperty("parts", 16);
  private final LoadTarget.Model model = target.models().get(0);
  private final double before = Counters.orZero(target.upstreamBlobBytes());

  {
    ScenarioBuilder warmUp = scenario("warm-up: one pull").exec(Pulls.pull(model, parts));
    ScenarioBuilder warm = scenario("warm throughput: " + clients + " clients").exec(Pulls.pull(model, parts));
    ScenarioBuilder verify = scenario("warm pulls fetched nothing upstream").exec(Pulls.upstreamBlobBytesAtMost(before + Pulls.upstreamFactor() * model.totalBytes()));
    setUp(warmUp.injectOpen(atOnceUsers(1)).andThen(warm.injectOpen(atOnceUsers(clients)).andThen(verify.injectOpen(atOnceUsers(1)))))
        .protocols(Pulls.protocol(target, parts))
        .assertions(global().failedRequests().count().is(0L));
  }

  @Override
  public void after() {
    Counters.report("warm", target, before, model.totalBytes());
    target.close();
  }
}
