package io.pullmesh.proxy;

import io.pullmesh.proxy.ProxyConfig.Option;
import io.pullmesh.proxy.cli.CliSpec;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Each option's value and where it came from, highest precedence first: the command line ({@code --cache-dir}), the
 * environment ({@code PULLMESH_CACHE_DIR}), the {@code --config} file ({@code cache-dir=}), the default. The source
 * names the value in error messages. Unknown {@code PULLMESH_*} variables are warned about; unknown keys in the file
 * are refused.
 *
 * @param values every option that has a value
 * @param sources how each value was given: {@code --listen}, {@code PULLMESH_LISTEN}, {@code listen in FILE}, or
 *     {@code default of --listen}
 */
record ConfigSources(Map<Option, String> values, Map<Option, String> sources, List<String> warnings) {
  /** Variables that are not options: the upstream password, and the admin client's (which the proxy ignores). */
  static final List<String> OTHER_ENV = List.of("PULLMESH_UPSTREAM_PASSWORD", "PULLMESH_ADMIN_URL", "PULLMESH_ADMIN_TOKEN");

  /**
   * @param flags the options given on the command line
   * @throws ConfigException when the config file cannot be read or has an unknown key
   */
  static ConfigSources of(Map<Option, String> flags, Map<String, String> env) {
    Map<Option, String> fromEnv = new EnumMap<>(Option.class);
    for (Option o : Option.values()) {
      String v = env.get(o.env());
      if (v != null && !v.isEmpty()) {
        fromEnv.put(o, v);
      }
    }
    List<String> warnings = new ArrayList<>();
    List<String> known = new ArrayList<>();
    for (Option o : Option.values()) {
      known.add(o.env());
    }
    known.addAll(OTHER_ENV);
    for (String k : env.keySet()) {
      if (k.startsWith("PULLMESH_") && !known.contains(k)) {
        warnings.add("ignoring environment variable " + k + ": the proxy does not know it" + CliSpec.didYouMean(CliSpec.closest(k, known))
            + " (known: " + String.join(", ", known) + ")");
      }
    }

    String configFile = flags.getOrDefault(Option.CONFIG, fromEnv.get(Option.CONFIG));
    Map<Option, String> fromFile = configFile == null ? Map.of() : readConfigFile(Path.of(configFile));

    Map<Option, String> values = new EnumMap<>(Option.class);
    Map<Option, String> sources = new EnumMap<>(Option.class);
    for (Option o : Option.values()) {
      String v = flags.get(o);
      String from = o.flag();
      if (v == null) {
        v = fromEnv.get(o);
        from = o.env();
      }
      if (v == null) {
        v = fromFile.get(o);
        from = o.key() + " in " + configFile;
      }
      if (v == null) {
        v = o.defaultValue();
        from = "default of " + o.flag();
      }
      if (v != null) {
        values.put(o, v);
        sources.put(o, from);
      }
    }
    return new ConfigSources(values, sources, List.copyOf(warnings));
  }

  /** How {@code o} was given, for a message: {@code --listen}, {@code PULLMESH_LISTEN}, ... ({@code --listen} if not at all). */
  String source(Option o) {
    return sources.getOrDefault(o, o.flag());
  }

  private static Map<Option, String> readConfigFile(Path file) {
    Properties props = new Properties();
    try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      props.load(r);
    } catch (IOException e) {
      throw new ConfigException("cannot read config file " + file + ": " + e.getMessage());
    }
    List<String> keys = new ArrayList<>();
    for (Option o : Option.values()) {
      if (o != Option.CONFIG) {
        keys.add(o.key());
      }
    }
    Map<Option, String> out = new EnumMap<>(Option.class);
    for (String k : props.stringPropertyNames()) {
      Option o = Option.byKey(k.strip());
      if (o == null || o == Option.CONFIG) {
        String close = CliSpec.closest(k.strip(), keys);
        throw new ConfigException("config file " + file + ": unknown key '" + k + "'" + CliSpec.didYouMean(close == null ? null : "--" + close)
            + " (keys are the option names without --, e.g. upstream-connections=32)");
      }
      out.put(o, props.getProperty(k).strip());
    }
    return out;
  }
}
