package io.pullmesh.seeder;

import io.pullmesh.proxy.ProxyConfig;
import io.pullmesh.proxy.ProxyOptions;
import io.pullmesh.proxy.cli.CliSpec;
import io.pullmesh.proxy.cli.OptionDef;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.UsageMessageSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * The arguments of a command that starts a node, parsed on picocli with the command's own options ({@code --list},
 * {@code --every}, ...) and every proxy option, then split three ways: the command's own options, its operands (model
 * names), and the proxy options as given, which go to the proxy's configuration parser unchanged.
 */
final class NodeArgs {
  final Map<String, String> own = new LinkedHashMap<>();
  final List<String> operands = new ArrayList<>();
  final List<String> proxyArgs = new ArrayList<>();
  boolean help;

  /** Proxy flags this command's parsing must see (was --listen set on the command line?). */
  boolean hasProxyOption(String name) {
    for (String a : proxyArgs) {
      if (a.equals("--" + name) || a.startsWith("--" + name + "=")) {
        return true;
      }
    }
    return false;
  }

  /**
   * The command line of a node command: its own options, then the proxy's under their heading, and operands.
   *
   * @param synopsis the usage lines, the first without {@code Usage: }
   * @param description what the command does, before its own options
   * @param after what follows its own options (an example, a hint)
   */
  static CommandSpec spec(String name, List<OptionDef> own, Map<String, String> env, String[] synopsis, String[] description,
      String[] after) {
    CommandSpec spec = CliSpec.command(name);
    spec.usageMessage().customSynopsis(synopsis).description(description).optionListHeading("%n" + ProxyOptions.HEADING + "%n");
    List<OptionSpec> ownSpecs = new ArrayList<>();
    for (OptionDef d : own) {
      OptionSpec o = CliSpec.option(d);
      ownSpecs.add(o);
      spec.addOption(o);
    }
    CliSpec.section(spec, "own", UsageMessageSpec.SECTION_KEY_DESCRIPTION, help -> "\n" + CliSpec.optionTable(help, ownSpecs));
    CliSpec.section(spec, "after", "own", help -> after.length == 0 ? "" : "\n" + String.join("\n", after) + "\n");
    spec.usageMessage().sectionMap().put(UsageMessageSpec.SECTION_KEY_OPTION_LIST,
        help -> CliSpec.optionTable(help, help.commandSpec().options().stream().filter(o -> !ownSpecs.contains(o)).toList()));
    ProxyOptions.addOptions(spec, env);
    spec.addOption(CliSpec.helpOption());
    spec.addPositional(CliSpec.words());
    return spec;
  }

  /** @param ownOptions option names without {@code --}, each taking a value */
  static NodeArgs split(String[] args, Set<String> ownOptions) throws UsageException {
    List<OptionDef> own = new ArrayList<>();
    for (String name : ownOptions) {
      own.add(OptionDef.of(name, "VALUE", ""));
    }
    return split(spec("node", own, Map.of(), new String[0], new String[0], new String[0]), args);
  }

  /** @throws UsageException for an unknown option, an option without its value or given twice */
  static NodeArgs split(CommandSpec spec, String[] args) throws UsageException {
    ParseResult r;
    try {
      r = CliSpec.parse(spec, args);
    } catch (ParameterException e) {
      CliSpec.Failure f = CliSpec.failure(e);
      throw new UsageException(f.kind() == CliSpec.Failure.Kind.UNKNOWN_OPTION ? f.text() + " (see " + spec.name() + " --help)"
          : ProxyOptions.message(f));
    }
    NodeArgs n = new NodeArgs();
    n.help = r.isUsageHelpRequested();
    List<String> proxyFlags = new ArrayList<>();
    for (ProxyConfig.Option o : ProxyConfig.Option.values()) {
      proxyFlags.add(o.flag());
    }
    for (OptionSpec o : spec.options()) {
      OptionDef d = CliSpec.def(o);
      if (d != null && !(d instanceof ProxyConfig.Option) && CliSpec.value(r, d) != null) {
        n.own.put(d.key(), CliSpec.value(r, d));
      }
    }
    n.operands.addAll(CliSpec.positionals(spec));
    // the proxy options as they were written (picocli has checked that each has its value)
    for (int i = 0; i < args.length && !args[i].equals("--"); i++) {
      String a = args[i];
      boolean attached = a.startsWith("--") && a.indexOf('=') > 0;
      String name = attached ? a.substring(0, a.indexOf('=')) : a;
      if (proxyFlags.contains(name)) {
        n.proxyArgs.add(a);
        if (!attached) {
          n.proxyArgs.add(args[++i]);
        }
      } else if (a.startsWith("-") && !attached && spec.findOption(name) != null && spec.findOption(name).arity().max() > 0) {
        i++;
      }
    }
    return n;
  }
}
