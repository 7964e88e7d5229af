package io.pullmesh.loadtest.gatling;

import static io.gatling.javaapi.core.CoreDsl.atOnceUsers;
import static io.gatling.javaapi.core.CoreDsl.constantUsersPerSec;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.listFeeder;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.header;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;

import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;
import io.pullmesh.loadtest.LoadTarget;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Manifest storm: {@code rate} manifest GETs per second (default 300) for {@code seconds} (default 20) spread over
 * {@code tags} tags (default 4), with the proxy's tag TTL at {@code ttlSeconds} (default 1) so that tags are
 * revalidated upstream all the while. Asserts no failed request, and that upstream saw at most one revalidation per
 * tag per TTL (plus the first fetch and slack for a TTL boundary): concurrent requests for a stale tag share one
 * upstream request. The proxy answers a tag past its TTL at once while it revalidates ({@code --manifest-max-stale}, the
 * property {@code maxStale}, default 1h); {@code -DmaxStale=0} makes every request past the TTL wait for the revalidation.
 * Before the storm, {@code warmSeconds} (default 15) of manifest GETs warm the fresh proxy's JIT, unmeasured.
 */
public class ManifestStormSimulation extends Simulation {
  private final int tags = (int) LoadTarget.longProperty("tags", 4);
  private final long ttl = LoadTarget.longProperty("ttlSeconds", 1);
  private final String maxStale = System.getProperty("maxStale", "1h");
  private final LoadTarget target = LoadTarget.start("storm", tags, 1, List.of("--manifest-ttl", ttl + "s", "--manifest-max-stale", maxStale));
  /** Seconds of unmeasured manifest GETs first, so a fresh proxy's JIT is not what the storm measures ({@code -DwarmSeconds=0}: none). */
  private final long warmed = target.warmUpManifests(LoadTarget.longProperty("warmSeconds", 15));
  private final long rate = LoadTarget.longProperty("rate", 300);
  private final long seconds = LoadTarget.longProperty("seconds", 20);
  private final double before = Counters.orZero(target.upstreamRequests("manifest"));
  /** The proxy's own latency histogram of manifest GETs before the storm: its share of the client's p99 is told apart after. */
  private final java.util.TreeMap<Double, Double> served = target.serverLatencyBuckets("manifest");

  {
    List<Map<String, Object>> records = new ArrayList<>();
    for (LoadTarget.Model m : target.models()) {
      records.add(Map.of("path", m.manifestPath()));
    }
    ScenarioBuilder storm = scenario("manifest storm: " + rate + "/s over " + tags + " tags, TTL " + ttl + " s")
        .feed(listFeeder(records).random())
        .exec(http("manifest").get("#{path}").header("Accept", "application/vnd.docker.distribution.manifest.v2+json")
            .check(status().is(200), header("Docker-Content-Digest").exists()));
    double bound = before + tags * ((double) seconds / ttl + 3);
    ScenarioBuilder verify = scenario("one revalidation per tag per TTL")
        .exec(exec(Pulls.upstreamRequestsAtMost("manifest", bound)));
    setUp(storm.injectOpen(constantUsersPerSec(rate).during(seconds)).andThen(verify.injectOpen(atOnceUsers(1))))
        .protocols(Pulls.protocol(target, 4))
        .assertions(global().failedRequests().count().is(0L));
  }

  @Override
  public void after() {
    System.out.printf("manifest storm: %.0f upstream manifest requests for %d requests over %d s (%d tags, TTL %d s)%n",
        Counters.orZero(target.upstreamRequests("manifest")) - before, rate * seconds, seconds, tags, ttl);
    System.out.printf("manifest storm: the proxy's slowest answer to a GET, by its own metric: %.0f ms%n", target.serverResponseTimeMaxSeconds() * 1000);
    var after = target.serverLatencyBuckets("manifest");
    System.out.printf("manifest storm: in the proxy, from request to last byte written (its histogram, upper bucket bounds): p50 <= %.1f ms, "
        + "p99 <= %.1f ms, p99.9 <= %.1f ms%n", LoadTarget.quantileSeconds(served, after, 0.5) * 1000,
        LoadTarget.quantileSeconds(served, after, 0.99) * 1000, LoadTarget.quantileSeconds(served, after, 0.999) * 1000);
    target.close();
  }
}
