package io.pullmesh.seeder;

import io.pullmesh.proxy.ProxyConfig;
import io.pullmesh.proxy.cli.CliSpec;
import io.pullmesh.proxy.cli.OptionDef;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/** The arguments of {@code import} and {@code export}: operands, {@code --cache-dir}, {@code --registry-host}. */
final class OfflineArgs {
  static final OptionDef REGISTRY_HOST = new OptionDef.Basic("registry-host", "HOST", "the registry whose models these are: the host "
      + "directory of the manifests", ModelName.DEFAULT_HOST, null);

  final List<String> operands = new ArrayList<>();
  String cacheDir;
  String registryHost = ModelName.DEFAULT_HOST;
  boolean help;

  /**
   * The command line of {@code import} or {@code export}.
   *
   * @param synopsis the usage line without {@code Usage: }
   * @param footer the lines after the options (exit codes)
   */
  static CommandSpec spec(String name, String synopsis, String[] description, String[] footer) {
    CommandSpec spec = CliSpec.command(name);
    spec.usageMessage().customSynopsis(synopsis).description(description).footer(footer);
    spec.addOption(CliSpec.option(ProxyConfig.Option.CACHE_DIR, "the proxy's"));
    spec.addOption(CliSpec.option(REGISTRY_HOST));
    spec.addOption(CliSpec.helpOption());
    spec.addPositional(CliSpec.words());
    return spec;
  }

  static OfflineArgs parse(CommandSpec spec, String[] args, Map<String, String> env) throws UsageException {
    String command = spec.name();
    ParseResult r;
    try {
      r = CliSpec.parse(spec, args);
    } catch (ParameterException e) {
      CliSpec.Failure f = CliSpec.failure(e);
      throw new UsageException(f.kind() == CliSpec.Failure.Kind.UNKNOWN_OPTION
          ? f.text() + " (" + command + " takes --cache-dir DIR and --registry-host HOST; see " + command + " --help)" : f.text());
    }
    OfflineArgs o = new OfflineArgs();
    o.help = r.isUsageHelpRequested();
    o.operands.addAll(CliSpec.positionals(spec));
    for (OptionDef d : List.of(ProxyConfig.Option.CACHE_DIR, REGISTRY_HOST)) {
      String given = CliSpec.value(r, d);
      if (given != null && given.isBlank()) {
        throw new UsageException(d.flag() + " needs a value");
      }
    }
    o.cacheDir = CliSpec.value(r, ProxyConfig.Option.CACHE_DIR, env);
    String host = CliSpec.value(r, REGISTRY_HOST, env);
    if (!host.matches("[A-Za-z0-9.-]+(:[0-9]+)?")) {
      throw new UsageException("--registry-host: '" + host + "' is not a host name (e.g. registry.ollama.ai, or mirror.lan:9200)");
    }
    o.registryHost = host;
    return o;
  }

  Path cache(Map<String, String> env) {
    return cacheDir == null || cacheDir.isBlank() ? ProxyConfig.defaultCacheDir(env) : Path.of(cacheDir);
  }
}
