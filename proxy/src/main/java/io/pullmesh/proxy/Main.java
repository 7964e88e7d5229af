package io.pullmesh.proxy;

import io.pullmesh.core.Bytes;
import io.pullmesh.proxy.cli.AdminCli;
import io.pullmesh.proxy.cli.CaCommand;
import io.pullmesh.proxy.cli.CliSpec;
import io.pullmesh.proxy.cli.CompletionCommand;
import io.pullmesh.proxy.cli.VerifyCommand;
import io.pullmesh.store.CacheUnusableException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Level;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.UsageMessageSpec;

/**
 * {@code java -jar pullmesh-proxy.jar [serve] [options]} runs the proxy; {@code admin <command>} is a client of a
 * running proxy's admin API; {@code verify} checks a stopped proxy's cache; {@code ca} prints or rotates its CA;
 * {@code completion} prints a shell completion script. See {@code --help}. Exit codes: 0 ok, 1 the operation failed
 * or found problems, 2 bad usage or configuration, cannot connect, or refused.
 */
public final class Main {
  /** The commands, the first argument; without one, {@code serve}. */
  static final List<String> COMMANDS = List.of("serve", "admin", "verify", "ca", "completion");

  private static final String JAR = "java -jar pullmesh-proxy.jar";

  private Main() {}

  public static void main(String[] args) {
    nettyMemoryDefaults();
    System.exit(run(args, System.getenv(), System.out, System.err, true, Terminal.stderrIsTerminal()));
  }

  /**
   * Netty's buffer memory, sized for a proxy whose download bytes pass through a bounded budget
   * ({@code --download-buffer-memory}) rather than for a server's throughput (docs/operations.md, "Memory"):
   * <ul>
   *   <li>Sockets read into Netty's pooled allocator, not Netty 4.2's default "adaptive" one. Under a small heap
   *       (-Xmx below 512 MiB, which Netty counts as low memory) the adaptive allocator fell back to a new, zeroed direct
   *       buffer for almost every socket read: 23,111 direct allocations for 16 downloads of 64 MiB, against 288 with the
   *       pooled one, and about 0.46 against 0.20 CPU-s per GiB spent getting, zeroing and freeing read buffers
   *       (async-profiler, docs/benchmarks.md, "CPU per GiB").
   *   <li>One direct arena of 1 MiB chunks instead of two per core of 4 MiB: with 16 cold downloads at once under -Xmx256m,
   *       NMT's direct memory ("Other") at the peak fell from 44 to 23 MiB.
   * </ul>
   * Set before any Netty class loads; a value given with {@code -D} (e.g. in {@code JAVA_TOOL_OPTIONS}) wins.
   */
  public static void nettyMemoryDefaults() {
    nettyMemoryDefaults(System.getProperties());
  }

  /** As {@link #nettyMemoryDefaults()}, into {@code properties}. */
  static void nettyMemoryDefaults(java.util.Properties properties) {
    properties.putIfAbsent("io.netty.allocator.type", "pooled");
    properties.putIfAbsent("io.netty.allocator.numDirectArenas", "1");
    properties.putIfAbsent("io.netty.allocator.maxOrder", "7");
  }

  /** As {@link #run(String[], Map, PrintStream, PrintStream, boolean, boolean)} with stderr not a terminal. */
  static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err, boolean block) {
    return run(args, env, out, err, block, false);
  }

  /**
   * Dispatches on the first argument: {@code admin ...}, {@code verify ...}, {@code ca ...} and {@code completion}
   * run a command and return; otherwise ({@code serve}, flags or nothing) runs the proxy until the JVM is asked to
   * stop (when {@code block}), or returns after start.
   *
   * @param terminal whether stderr is a terminal (progress bars are redrawn in place)
   * @return the exit code
   */
  static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err, boolean block, boolean terminal) {
    String first = args.length > 0 ? args[0] : "";
    String[] rest = args.length > 0 ? Arrays.copyOfRange(args, 1, args.length) : args;
    switch (first) {
      case "admin" -> {
        return AdminCli.run(rest, env, out, err, terminal);
      }
      case "verify" -> {
        LogSetup.configure(Level.WARNING);
        return VerifyCommand.run(rest, env, ProxyConfig.defaultCacheDir(env), out, err, terminal);
      }
      case "ca" -> {
        return CaCommand.run(rest, env, ProxyConfig.defaultCacheDir(env), out, err);
      }
      case "completion" -> {
        return CompletionCommand.run(rest, commands(env), JAR, "pullmesh completion: ", out, err);
      }
      case "serve" -> {
        return serve(rest, env, out, err, block);
      }
      default -> {
        return serve(args, env, out, err, block);
      }
    }
  }

  /**
   * The jar's commands as one picocli tree: the proxy's options at the top ({@code serve} is the default), each
   * command below. The usage's command list and the completion script are made from it.
   */
  static CommandSpec commands(Map<String, String> env) {
    CommandSpec root = ProxyOptions.spec(env).name("pullmesh-proxy");
    CommandSpec serve = ProxyOptions.spec(env);
    serve.usageMessage().customSynopsis(JAR + " [serve] [options]");
    CliSpec.summary(serve, "run the proxy (the default)");
    root.addSubcommand("serve", serve);
    root.addSubcommand("admin", AdminCli.spec());
    root.addSubcommand("verify", VerifyCommand.spec());
    root.addSubcommand("ca", CaCommand.spec());
    root.addSubcommand("completion", CompletionCommand.spec(JAR, "pullmesh-proxy"));
    return root;
  }

  /** {@code --help}: every command's synopsis, the commands, the proxy's options (with the cache directory {@code env} implies). */
  static String usage(Map<String, String> env) {
    CommandSpec root = commands(env);
    List<String> synopsis = new ArrayList<>();
    for (CommandLine c : root.subcommands().values()) {
      for (String line : c.getCommandSpec().usageMessage().customSynopsis()) {
        synopsis.add((synopsis.isEmpty() ? "" : "       ") + line.strip());
      }
    }
    root.usageMessage().header(CliSpec.text("pullmesh proxy " + ProxyConfig.VERSION + ": a caching registry mirror that Ollama pulls through"), "")
        .customSynopsis(synopsis.toArray(String[]::new))
        .optionListHeading("%n" + ProxyOptions.HEADING + "%n")
        .footerHeading("%n")
        .footer("Pull through it with:  ollama pull --insecure <this-host>:9200/library/qwen2.5:7b",
            "or, unchanged names:   HTTPS_PROXY=http://<this-host>:9200 ollama serve",
            "                       (trust <ca-dir>/ca.crt first: docs/interception.md)",
            "Endpoints: /v2/... (registry API), /healthz, /metrics (Prometheus), /admin/v1/... (admin API)",
            "Exit codes: 0 ok, 1 the operation failed or found problems, 2 bad usage or configuration, cannot",
            "connect, or refused");
    List<String> keys = new ArrayList<>(root.usageMessage().sectionKeys());
    keys.removeAll(List.of(UsageMessageSpec.SECTION_KEY_COMMAND_LIST_HEADING, UsageMessageSpec.SECTION_KEY_COMMAND_LIST));
    int options = keys.indexOf(UsageMessageSpec.SECTION_KEY_OPTION_LIST_HEADING);
    keys.addAll(options, List.of(UsageMessageSpec.SECTION_KEY_COMMAND_LIST_HEADING, UsageMessageSpec.SECTION_KEY_COMMAND_LIST));
    root.usageMessage().sectionKeys(keys);
    return CliSpec.usage(root);
  }

  private static int serve(String[] args, Map<String, String> env, PrintStream out, PrintStream err, boolean block) {
    ProxyConfig.Parsed parsed;
    try {
      parsed = ProxyConfig.parse(args, env);
    } catch (ConfigException e) {
      err.println("pullmesh: " + e.getMessage());
      return 2;
    }
    if (parsed instanceof ProxyConfig.Help h) {
      out.print(h.text());
      return 0;
    }
    if (parsed instanceof ProxyConfig.Version v) {
      out.println(v.text());
      return 0;
    }
    ProxyConfig.Run run = (ProxyConfig.Run) parsed;
    ProxyConfig config = run.config();
    LogSetup.configure(config.logLevel(), config.logFormat());
    for (String w : run.warnings()) {
      LogSetup.warning(err, "pullmesh: ", w);
    }
    PullmeshProxy proxy;
    try {
      proxy = PullmeshProxy.start(config);
    } catch (CacheUnusableException | IllegalStateException e) {
      LogSetup.message(err, Level.SEVERE, "pullmesh: ", e.getMessage());
      return 2;
    }
    LogSetup.print(out, "pullmesh proxy " + ProxyConfig.VERSION + " listening on http://" + hostForUrl(config.listenHost()) + ":" + proxy.port()
        + " (upstream " + Redaction.url(config.upstream()) + ", cache " + proxy.store().root() + " holding "
        + Bytes.human(proxy.store().committedBytes()) + " in " + proxy.store().committedBlobs() + " blobs, "
        + config.upstreamConnections() + " connections per blob"
        + (proxy.transferPort() > 0 ? ", blob port " + proxy.transferPort() + " for Ollama's x/transfer downloader" : "") + ")");
    LogSetup.print(out, "pullmesh admin API at " + proxy.url() + AdminApi.PREFIX + " (changes "
        + (config.adminToken() != null ? "need the --admin-token" : "from this machine only: no --admin-token set")
        + "); e.g. java -jar pullmesh-proxy.jar admin stats --url " + proxy.url());
    if (proxy.ca() != null) {
      LogSetup.print(out, "pullmesh forward proxy: HTTPS_PROXY=" + proxy.url() + " intercepts " + config.interception().intercept()
          + " with the CA " + proxy.ca().certificateFile() + " (SHA-256 " + proxy.ca().fingerprintSha256().substring(0, 23)
          + "..., also at " + proxy.url() + "/ca.crt), tunnels " + config.interception().tunnel() + ", refuses the rest");
    }
    if (proxy.mesh() != null) {
      LogSetup.print(out, "pullmesh mesh " + config.mesh().name() + ": node " + proxy.mesh().node() + " with " + proxy.mesh().members().size()
          + " node(s), announcing its blobs; peers fetch them from " + proxy.url() + "/mesh/v1/blobs/ with the mesh secret");
    }
    if (!block) {
      Runtime.getRuntime().addShutdownHook(new Thread(proxy::close, "pullmesh-shutdown"));
      return 0;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      LogSetup.message(err, Level.INFO, "pullmesh: ", "shutting down");
      proxy.close();
      stopped.countDown();
    }, "pullmesh-shutdown"));
    try {
      stopped.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return 0;
  }

  private static String hostForUrl(String host) {
    return host.contains(":") ? "[" + host + "]" : host;
  }
}
