package io.pullmesh.loadtest.gatling;

import static io.gatling.javaapi.core.CoreDsl.atOnceUsers;
import static io.gatling.javaapi.core.CoreDsl.doSwitch;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.listFeeder;
import static io.gatling.javaapi.core.CoreDsl.onCase;
import static io.gatling.javaapi.core.CoreDsl.scenario;

import io.gatling.javaapi.core.Choice;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;
import io.pullmesh.loadtest.LoadTarget;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Many models: {@code models} distinct cold models (default 8, {@code modelMiB} default 64 each) pulled at once,
 * {@code clientsPerModel} clients each (default 2). Asserts no failed request and upstream blob bytes at most 1.02
 * times the sum of the models.
 */
public class ManyModelsSimulation extends Simulation {
  private final int count = (int) LoadTarget.longProperty("models", 8);
  private final LoadTarget target = LoadTarget.start("many", count, 64, List.of());
  private final int perModel = (int) LoadTarget.longProperty("clientsPerModel", 2);
  private final int parts = (int) LoadTarget.longProperty("parts", 16);
  private final double before = Counters.orZero(target.upstreamBlobBytes());
  private final long total = target.models().stream().mapToLong(LoadTarget.Model::totalBytes).sum();

  {
    List<Map<String, Object>> records = new ArrayList<>();
    List<Choice.WithKey> choices = new ArrayList<>();
    for (int i = 0; i < target.models().size(); i++) {
      records.add(Map.of("model", i));
      choices.add(onCase(i).then(Pulls.pull(target.models().get(i), parts)));
    }
    ScenarioBuilder pulls = scenario("many models: " + target.models().size() + " models x " + perModel + " clients")
        .feed(listFeeder(records).circular()).exec(doSwitch("#{model}").on(choices));
    ScenarioBuilder verify = scenario("upstream carried each model once").exec(Pulls.upstreamBlobBytesAtMost(before + Pulls.upstreamFactor() * total));
    setUp(pulls.injectOpen(atOnceUsers(target.models().size() * perModel)).andThen(verify.injectOpen(atOnceUsers(1))))
        .protocols(Pulls.protocol(target, parts))
        .assertions(global().failedRequests().count().is(0L));
  }

  @Override
  public void after() {
    Counters.report("many models", target, before, total);
    target.close();
  }
}
