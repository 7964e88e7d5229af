package io.pullmesh.seeder;

import io.pullmesh.proxy.ProxyConfig;
import io.pullmesh.proxy.Terminal;
import java.io.PrintStream;
import java.time.Clock;
import java.util.Arrays;
import java.util.Map;

/**
 * {@code java -jar pullmesh-seeder.jar <command>}: {@code seed}, {@code prefetch}, {@code import}, {@code export}.
 * Exit codes: 0 ok, 1 the operation failed (each failure is named), 2 bad usage or configuration.
 */
public final class Main {
  static final int OK = 0;
  static final int FAILED = 1;
  static final int USAGE = 2;

  private Main() {}

  static final String USAGE_TEXT = """
      pullmesh seeder %s: a headless pullmesh node and its offline tools

      Usage: java -jar pullmesh-seeder.jar <command> [arguments]

      Commands:
        seed       run a node that serves its cache into a LAN mesh until stopped (needs --mesh-name and
                   --mesh-secret-file); optionally keeps a list of models warm (--prefetch-list, --every, --at)
        prefetch   pull models into a cache through a node started here: prefetch qwen2.5:7b llama3.2;
                   with --every 24h or --at 02:00 it keeps serving and warms them again
        import     import an Ollama models directory (~/.ollama/models) into a cache, verifying every blob
        export     write models from a cache as an Ollama models directory (OLLAMA_MODELS=DIR ollama serve)

      `<command> --help` describes each. Exit codes: 0 ok, 1 the operation failed (each failure is named),
      2 bad usage or configuration.
      """;

  public static void main(String[] args) {
    System.exit(run(args, System.getenv(), System.out, System.err, Terminal.stderrIsTerminal(), Lifecycle.untilSignal(System.err),
        Clock.systemDefaultZone()));
  }

  /**
   * Runs one command and returns its exit code. {@code seed} and a scheduled {@code prefetch} return when
   * {@code life} says to stop.
   *
   * @param terminal whether stderr is a terminal (progress bars redrawn in place)
   * @param clock the time and zone schedules are computed in
   */
  public static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err, boolean terminal, Lifecycle life,
      Clock clock) {
    String command = args.length > 0 ? args[0] : "";
    String[] rest = args.length > 0 ? Arrays.copyOfRange(args, 1, args.length) : args;
    try {
      switch (command) {
        case "seed":
          return SeedCommand.run(rest, env, out, err, terminal, life, clock);
        case "prefetch":
          return PrefetchCommand.run(rest, env, out, err, terminal, life, clock);
        case "import":
          return ImportCommand.run(rest, env, out, err, terminal, clock);
        case "export":
          return ExportCommand.run(rest, env, out, err, terminal, clock);
        case "", "help", "--help", "-h":
          (command.isEmpty() ? err : out).print(USAGE_TEXT.formatted(ProxyConfig.VERSION));
          return command.isEmpty() ? USAGE : OK;
        case "--version", "-V":
          out.println("pullmesh seeder " + ProxyConfig.VERSION);
          return OK;
        default:
          err.println("pullmesh-seeder: unknown command '" + command + "' (commands: seed, prefetch, import, export; see --help)");
          return USAGE;
      }
    } catch (UsageException e) {
      err.println("pullmesh-seeder " + command + ": " + e.getMessage());
      return USAGE;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      err.println("pullmesh-seeder " + command + ": interrupted");
      return FAILED;
    }
  }
}
