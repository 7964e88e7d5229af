package io.pullmesh.seeder;

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
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code seed [proxy options] [--prefetch-list FILE [--every D | --at HH:MM]]}: a headless node in a LAN mesh. It
 * starts exactly like the proxy (same options), announces every blob its cache holds, serves clients and peers until
 * SIGTERM, and optionally keeps a list of models warm.
 */
final class SeedCommand {
  private SeedCommand() {}

  /** The options of its own; it takes the proxy's too. */
  static final List<OptionDef> OWN = List.of(
      OptionDef.of("prefetch-list", "FILE", "warm the models listed in FILE (one name per line, # comments) at start, read again before "
          + "each run"),
      OptionDef.of("every", "DURATION", "and again every DURATION (e.g. 6h, 24h)"),
      OptionDef.of("at", "HH:MM", "or daily at this local time (e.g. 02:00)"));

  static CommandSpec spec(Map<String, String> env) {
    CommandSpec spec = NodeArgs.spec("seed", OWN, env,
        new String[] {"java -jar pullmesh-seeder.jar seed --mesh-name NAME --mesh-secret-file FILE [options]",
            "         [--prefetch-list FILE [--every DURATION | --at HH:MM]]"},
        new String[] {"", "Runs a pullmesh node with no one at the keyboard: it joins the mesh, announces every blob its cache holds "
            + "(e.g. models brought in with `import`), serves Ollama clients and peers, and runs until SIGTERM or Ctrl-C. It takes every "
            + "option of the proxy (below); the mesh options are required."},
        new String[] {"Example:",
            "  java -jar pullmesh-seeder.jar seed --mesh-name office --mesh-secret-file /etc/pullmesh/mesh.secret \\",
            "      --mesh-bind 10.0.0.5 --cache-dir /srv/pullmesh --prefetch-list /etc/pullmesh/models.txt --at 02:00"});
    CliSpec.summary(spec, "run a node that serves its cache into a LAN mesh until stopped (needs --mesh-name and --mesh-secret-file); "
        + "optionally keeps a list of models warm (--prefetch-list, --every, --at)");
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
    if (!a.operands.isEmpty()) {
      throw new UsageException("unexpected argument '" + a.operands.get(0) + "' (seed takes options only; to warm models use --prefetch-list FILE)");
    }
    Schedule schedule;
    try {
      schedule = Schedule.parse(a.own.get("every"), a.own.get("at"), clock.getZone());
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    }
    String listFile = a.own.get("prefetch-list");
    if (schedule != null && listFile == null) {
      throw new UsageException("--every and --at schedule the warm-up of a list: add --prefetch-list FILE");
    }
    ProxyConfig config = NodeStarter.config(a.proxyArgs, env, err, "seed");
    if (config.mesh() == null) {
      throw new UsageException("seed serves a mesh: add --mesh-name NAME and --mesh-secret-file FILE (the same secret file on every node; "
          + "e.g. `openssl rand -hex 32 > mesh.secret`), plus --mesh-members HOST:PORT,... where multicast is not allowed. "
          + "To run a node without a mesh, use pullmesh-proxy.jar");
    }
    if (listFile != null) {
      try {
        ListFile.read(Path.of(listFile));
      } catch (IOException e) {
        throw new UsageException("--prefetch-list: " + e.getMessage());
      }
    }
    LogSetup.configure(config.logLevel(), config.logFormat());
    PullmeshProxy node = NodeStarter.start(config, "stop it, or give the seeder its own --cache-dir");
    Rewarmer rewarmer = null;
    try {
      out.println("pullmesh-seeder " + ProxyConfig.VERSION + " seeding mesh " + config.mesh().name() + ": node " + node.mesh().node()
          + " at " + NodeStarter.reachableUrl(config, node) + ", cache " + NodeStarter.cacheSummary(node)
          + " (all announced), " + node.mesh().members().size() + " node(s) in the mesh, upstream " + config.upstream());
      out.flush();
      if (listFile != null) {
        Path file = Path.of(listFile);
        rewarmer = new Rewarmer(() -> names(file), "the list " + file, new LoopbackPuller(node.url(), err, terminal, "pullmesh-seeder: "), schedule, clock, out, err);
        out.println("pullmesh-seeder: warming the list " + file + " now" + (schedule == null ? "" : ", then " + schedule.describe()));
        out.flush();
        rewarmer.start();
      }
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

  static List<String> names(Path file) throws IOException {
    List<String> out = new ArrayList<>();
    for (ListFile.Entry e : ListFile.read(file)) {
      out.add(e.name());
    }
    return out;
  }
}
