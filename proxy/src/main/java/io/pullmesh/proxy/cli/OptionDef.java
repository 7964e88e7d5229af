package io.pullmesh.proxy.cli;

import java.util.List;

/**
 * One command-line option, defined once: its name, the label of its value, its environment variable, its default and
 * its help. The picocli option ({@link CliSpec#option}), {@code --help}, the README's option table and the shell
 * completion scripts are all made from these.
 */
public interface OptionDef {
  /** The name without dashes ({@code cache-dir}); for the proxy also the key in its {@code --config} file. */
  String key();

  /** The label of the value ({@code DIR}), or null for a flag that takes none. */
  String arg();

  String help();

  /** The default as it would be written on the command line, or null. */
  String defaultValue();

  /** The environment variable ({@code PULLMESH_CACHE_DIR}), or null. */
  String env();

  /** The default as shown to people: {@link #defaultValue()}, or a description of a computed one; null for none. */
  default String defaultText() {
    return defaultValue();
  }

  /** The values a shell completes; empty for any. */
  default List<String> choices() {
    return List.of();
  }

  default String flag() {
    return "--" + key();
  }

  /** An option with no environment variable and no default. */
  static OptionDef of(String key, String arg, String help) {
    return new Basic(key, arg, help, null, null);
  }

  /** A definition as a value. */
  record Basic(String key, String arg, String help, String defaultValue, String env) implements OptionDef {}
}
