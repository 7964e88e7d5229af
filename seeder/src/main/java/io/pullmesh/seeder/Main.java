package io.pullmesh.seeder;

import io.pullmesh.proxy.ProxyConfig;
import io.pullmesh.proxy.Terminal;
import io.pullmesh.proxy.cli.CliSpec;
import io.pullmesh.proxy.cli.CompletionCommand;
import java.io.PrintStream;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.UsageMessageSpec;

/**
 * {@code java -jar pullmesh-seeder.jar <command>}: {@code seed}, {@code prefetch}, {@code import}, {@code export},
 * {@code completion}. Exit codes: 0 ok, 1 the operation failed (each failure is named), 2 bad usage or configuration.
 */
public final class Main {
  static final int OK = 0;
  static final int FAILED = 1;
  static final int USAGE = 2;

  static final List<String> COMMANDS = List.of("seed", "prefetch", "import", "export", "completion");

  private static final String JAR = "java -jar pullmesh-seeder.jar";

  private Main() {}

  public static void main(String[] args) {
    // a seeder downloads as a proxy node does: the same bounded Netty pools (before any Netty class loads)
    io.pullmesh.proxy.Main.nettyMemoryDefaults();
    System.exit(run(args, System.getenv(), System.out, System.err, Terminal.stderrIsTerminal(), Lifecycle.untilSignal(System.err),
        Clock.systemDefaultZone()));
  }

  /**
   * The jar's commands as one picocli tree: the usage's command list and the completion script are made from it.
   */
  static CommandSpec commands(Map<String, String> env) {
    CommandSpec root = CliSpec.command("pullmesh-seeder");
    root.usageMessage().header(CliSpec.text("pullmesh seeder " + ProxyConfig.VERSION + ": a headless pullmesh node and its offline tools"), "")
        .customSynopsis(JAR + " <command> [arguments]")
        .footerHeading("%n")
        .footer(CliSpec.text("`<command> --help` describes each. Exit codes: 0 ok, 1 the operation failed (each failure is named), "
            + "2 bad usage or configuration."));
    List<String> keys = new ArrayList<>(root.usageMessage().sectionKeys());
    keys.removeAll(List.of(UsageMessageSpec.SECTION_KEY_COMMAND_LIST_HEADING, UsageMessageSpec.SECTION_KEY_COMMAND_LIST));
    keys.addAll(keys.indexOf(UsageMessageSpec.SECTION_KEY_OPTION_LIST_HEADING),
        List.of(UsageMessageSpec.SECTION_KEY_COMMAND_LIST_HEADING, UsageMessageSpec.SECTION_KEY_COMMAND_LIST));
    root.usageMessage().sectionKeys(keys);
    root.addOption(CliSpec.helpOption());
    root.addOption(CliSpec.versionOption());
    root.addSubcommand("seed", SeedCommand.spec(env));
    root.addSubcommand("prefetch", PrefetchCommand.spec(env));
    root.addSubcommand("import", ImportCommand.spec());
    root.addSubcommand("export", ExportCommand.spec());
    root.addSubcommand("completion", CompletionCommand.spec(JAR, "pullmesh-seeder"));
    return root;
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
        case "completion":
          return CompletionCommand.run(rest, commands(env), JAR, "pullmesh-seeder completion: ", out, err);
        case "", "help", "--help", "-h":
          (command.isEmpty() ? err : out).print(CliSpec.usage(commands(env)));
          return command.isEmpty() ? USAGE : OK;
        case "--version", "-V":
          out.println("pullmesh seeder " + ProxyConfig.VERSION);
          return OK;
        default:
          err.println("pullmesh-seeder: unknown command '" + command + "'" + CliSpec.didYouMean(CliSpec.closest(command, COMMANDS))
              + " (commands: " + String.join(", ", COMMANDS) + "; see --help)");
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
