package io.pullmesh.proxy;

import io.pullmesh.proxy.ProxyConfig.Option;
import io.pullmesh.proxy.cli.CliSpec;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * The proxy's options on picocli: one option per {@link Option} (the seeder's node commands take them too), and the
 * {@code serve} command's parse into a {@link ProxyConfig.Parsed}.
 */
public final class ProxyOptions {
  /** The heading of the proxy's options in usage help. */
  public static final String HEADING = "Options (each also as an environment variable, and as a key in the --config file):";

  private ProxyOptions() {}

  /** The {@code serve} command: every option, {@code --help}, {@code --version}; arguments are collected for {@link #parse} to refuse. */
  public static CommandSpec spec(Map<String, String> env) {
    CommandSpec spec = CliSpec.command("serve");
    addOptions(spec, env);
    spec.addOption(CliSpec.helpOption());
    spec.addOption(CliSpec.versionOption());
    spec.addPositional(CliSpec.words());
    return spec;
  }

  /** Adds an option per {@link Option} to {@code spec}; the help shows the cache directory {@code env} implies. */
  public static void addOptions(CommandSpec spec, Map<String, String> env) {
    for (Option o : Option.values()) {
      spec.addOption(CliSpec.option(o, o == Option.CACHE_DIR ? ProxyConfig.defaultCacheDir(env).toString() : o.defaultText()));
    }
  }

  /** The proxy options given on the command line {@code r} was parsed from. */
  public static Map<Option, String> given(ParseResult r) {
    Map<Option, String> out = new EnumMap<>(Option.class);
    for (Option o : Option.values()) {
      String v = CliSpec.value(r, o);
      if (v != null) {
        out.put(o, v);
      }
    }
    return out;
  }

  /** The message for a proxy option's parse error: {@code unknown option --lisen; did you mean --listen? (see --help)}. */
  public static String message(CliSpec.Failure f) {
    return switch (f.kind()) {
      case UNKNOWN_OPTION -> f.text() + " (see --help)";
      case NEEDS_VALUE -> {
        Option o = f.subject().startsWith("--") ? Option.byKey(f.subject().substring(2)) : null;
        yield f.text() + (o == null ? "" : ": " + o.flag() + " " + o.arg());
      }
      default -> f.text();
    };
  }

  static ProxyConfig.Parsed parse(String[] args, Map<String, String> env) {
    CommandSpec spec = spec(env);
    ParseResult r;
    try {
      r = CliSpec.parse(spec, args);
    } catch (ParameterException e) {
      throw new ConfigException(message(CliSpec.failure(e)));
    }
    List<String> words = CliSpec.positionals(spec);
    if (r.isUsageHelpRequested() || words.contains("help")) {
      return new ProxyConfig.Help(Main.usage(env));
    }
    if (r.isVersionHelpRequested()) {
      return new ProxyConfig.Version("pullmesh proxy " + ProxyConfig.VERSION);
    }
    if (!words.isEmpty()) {
      String w = words.get(0);
      String command = Main.COMMANDS.contains(w) ? null : CliSpec.closest(w, Main.COMMANDS);
      throw new ConfigException("unexpected argument '" + w + "'" + CliSpec.didYouMean(command)
          + " (commands come first: " + String.join(", ", Main.COMMANDS) + "; options start with --; see --help)");
    }
    ConfigSources sources = ConfigSources.of(given(r), env);
    return new ProxyConfig.Run(ConfigBuilder.build(sources, env), sources.warnings());
  }
}
