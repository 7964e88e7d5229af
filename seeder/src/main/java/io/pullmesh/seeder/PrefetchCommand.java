package io.pullmesh.seeder;

import io.pullmesh.core.Bytes;
import io.pullmesh.proxy.LogSetup;
import io.pullmesh.proxy.ProxyConfig;
import io.pullmesh.proxy.PullmeshProxy;
import io.pullmesh.proxy.cli.CliSpec;
import io.pullmesh.proxy.cli.OptionDef;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code prefetch NAME... | --list FILE [proxy options] [--every D | --at HH:MM]}: starts a node here (the proxy's
 * options, mesh optional) and pulls each model through its registry API, so its cache holds them. Once, then exit
 * (0 when every model is in the cache, 1 naming each failure); or, with a schedule, keep serving and warm them again.
 */
final class PrefetchCommand {
  private PrefetchCommand() {}

  /** The options of its own; it takes the proxy's too. */
  static final List<OptionDef> OWN = List.of(
      OptionDef.of("list", "FILE", "also the models listed in FILE (one name per line, # comments, blank lines)"),
      OptionDef.of("every", "DURATION", "keep running (and serving) and warm the models again every DURATION (e.g. 24h)"),
      OptionDef.of("at", "HH:MM", "keep running (and serving) and warm them again daily at this local time"));

  static CommandSpec spec(Map<String, String> env) {
    CommandSpec spec = NodeArgs.spec("prefetch", OWN, env,
        new String[] {"java -jar pullmesh-seeder.jar prefetch NAME... [--list FILE] [options]",
            "         [--every DURATION | --at HH:MM]"},
        new String[] {"", "Starts a pullmesh node on the cache and pulls each model through it, the way Ollama pulls: the cache then "
            + "holds its manifest and every blob. NAME is as for ollama pull: qwen2.5:7b is library/qwen2.5:7b, user/model is "
            + "user/model:latest. Without a schedule the node listens on 127.0.0.1 only (no --listen given) and stops when done; exit 0 "
            + "when every model is in the cache, 1 otherwise, naming each failure."},
        new String[] {"While a node already runs on the cache, prefetch through it instead:",
            "  java -jar pullmesh-proxy.jar admin prefetch qwen2.5:7b --url http://HOST:9200"});
    CliSpec.summary(spec, "pull models into a cache through a node started here: prefetch qwen2.5:7b llama3.2; with --every 24h or "
        + "--at 02:00 it keeps serving and warms them again");
    return spec;
  }

  static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err, boolean terminal, Lifecycle life, Clock clock)
      throws UsageException, InterruptedException {
    CommandSpec spec = spec(env);
    NodeArgs a = NodeArgs.split(spec, args);
    if (a.help) {
      out.print(CliSpec.usage(spec));
      return 0;
    }
    Schedule schedule;
    try {
      schedule = Schedule.parse(a.own.get("every"), a.own.get("at"), clock.getZone());
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    }
    Path list = a.own.containsKey("list") ? Path.of(a.own.get("list")) : null;
    List<String> fixed = List.copyOf(a.operands);
    if (fixed.isEmpty() && list == null) {
      throw new UsageException("name the models to prefetch, e.g. prefetch qwen2.5:7b llama3.2, or --list FILE");
    }
    List<String> first;
    try {
      first = names(fixed, list);
    } catch (IOException e) {
      throw new UsageException("--list: " + e.getMessage());
    }
    List<String> proxyArgs = new ArrayList<>(a.proxyArgs);
    if (schedule == null) {
      // a one-off run serves nobody but itself: loopback, an ephemeral port, no CA made for interception
      if (!a.hasProxyOption("listen") && !env.containsKey("PULLMESH_LISTEN")) {
        proxyArgs.add("--listen=127.0.0.1:0");
      }
      if (!a.hasProxyOption("intercept-hosts") && !env.containsKey("PULLMESH_INTERCEPT_HOSTS")) {
        proxyArgs.add("--intercept-hosts=none");
      }
    }
    ProxyConfig config = NodeStarter.config(proxyArgs, env, err, "prefetch");
    LogSetup.configure(schedule == null && config.logLevel().intValue() >= Level.INFO.intValue() ? Level.WARNING : config.logLevel(),
        config.logFormat());
    PullmeshProxy node = NodeStarter.start(config, "prefetch through it (java -jar pullmesh-proxy.jar admin prefetch NAME --url ...), "
        + "or stop it first");
    if (schedule == null) {
      return once(node, first, out, err, terminal);
    }
    Rewarmer rewarmer = null;
    try {
      String what = (fixed.isEmpty() ? "" : String.join(", ", fixed) + (list == null ? "" : " and ")) + (list == null ? "" : "the list " + list);
      out.println("pullmesh-seeder " + ProxyConfig.VERSION + " serving " + NodeStarter.reachableUrl(config, node) + " (cache "
          + NodeStarter.cacheSummary(node) + (node.mesh() != null ? ", mesh " + config.mesh().name() : "") + ", upstream " + config.upstream()
          + "); warming " + what + " now, then " + schedule.describe());
      out.flush();
      rewarmer = new Rewarmer(() -> names(fixed, list), what, new LoopbackPuller(node.url(), err, terminal, "pullmesh-seeder prefetch: "), schedule, clock, out, err);
      rewarmer.start();
      life.started(node);
      life.awaitStop();
      return 0;
    } finally {
      if (rewarmer != null) {
        rewarmer.close();
      }
      node.close();
      life.closed();
    }
  }

  private static int once(PullmeshProxy node, List<String> names, PrintStream out, PrintStream err, boolean terminal)
      throws InterruptedException {
    Thread hook = new Thread(node::close, "pullmesh-seeder-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    List<LoopbackPuller.Outcome> outcomes;
    String cache;
    try {
      outcomes = new LoopbackPuller(node.url(), err, terminal, "pullmesh-seeder prefetch: ").pullAll(names);
      cache = NodeStarter.cacheSummary(node);
    } finally {
      node.close();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // shutting down already
      }
    }
    List<String> failed = new ArrayList<>();
    long bytes = 0;
    for (LoopbackPuller.Outcome o : outcomes) {
      if (o.ok()) {
        bytes += o.bytes();
      } else {
        failed.add(o.name() + ": " + o.error());
      }
    }
    int ok = outcomes.size() - failed.size();
    out.println("pullmesh-seeder prefetch: " + ok + " of " + outcomes.size() + " model(s) in the cache (" + Bytes.human(bytes) + "); cache " + cache);
    if (!failed.isEmpty()) {
      err.println("pullmesh-seeder prefetch: " + failed.size() + " failed:");
      for (String f : failed) {
        err.println("  " + f);
      }
      return 1;
    }
    return 0;
  }

  /** The names on the command line, then the list file's. */
  private static List<String> names(List<String> fixed, Path list) throws IOException {
    List<String> out = new ArrayList<>(fixed);
    if (list != null) {
      for (ListFile.Entry e : ListFile.read(list)) {
        out.add(e.name());
      }
    }
    return out;
  }
}
