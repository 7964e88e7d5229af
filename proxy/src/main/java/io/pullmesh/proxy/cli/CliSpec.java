package io.pullmesh.proxy.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Stack;
import picocli.CommandLine;
import picocli.CommandLine.Help;
import picocli.CommandLine.Help.Ansi;
import picocli.CommandLine.MissingParameterException;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.Model.UsageMessageSpec;
import picocli.CommandLine.OverwrittenOptionException;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * What every pullmesh command line shares on picocli: an {@link OptionDef} made into an option, the parser settings,
 * the usage layout ({@code --name VALUE}, in the order the options are defined, each with its environment variable),
 * option values with their environment defaults, and parse errors in pullmesh's words ({@link Failure}).
 */
public final class CliSpec {
  /** Usage help is laid out this wide, whatever the terminal, so that it is the same everywhere. */
  static final int WIDTH = 100;
  private static final int LONG_OPTIONS_MAX_WIDTH = 32;

  private CliSpec() {}

  /**
   * A command with the parser settings every pullmesh command uses: no {@code @file} expansion, no abbreviated or
   * clustered options, no {@code ${...}} interpolation, an option given twice refused, a value that starts with
   * {@code --} refused ({@link #needsValue}; one that starts with a single {@code -} is a value); usage laid out
   * {@link #WIDTH} wide with pullmesh's option list.
   */
  public static CommandSpec command(String name) {
    CommandSpec spec = CommandSpec.create().name(name);
    spec.interpolateVariables(false);
    spec.parser().expandAtFiles(false).abbreviatedOptionsAllowed(false).posixClusteredShortOptionsAllowed(false)
        .unmatchedOptionsAllowedAsOptionParameters(true).overwrittenOptionsAllowed(false);
    spec.usageMessage().width(WIDTH).autoWidth(false).longOptionsMaxWidth(LONG_OPTIONS_MAX_WIDTH)
        .synopsisHeading("Usage: ").optionListHeading("%nOptions:%n").commandListHeading("%nCommands:%n");
    // usage shows the positional parameters in its synopsis and command tables, not as a list of their own
    spec.usageMessage().sectionKeys(spec.usageMessage().sectionKeys().stream().filter(k -> !k.startsWith("parameterList")
        && !k.startsWith("atFileParameterList")).toList());
    spec.usageMessage().sectionMap().put(UsageMessageSpec.SECTION_KEY_OPTION_LIST,
        help -> optionTable(help, visible(help.commandSpec().options())));
    return spec;
  }

  /** The option for {@code d}, its default shown as {@link OptionDef#defaultText()}. */
  public static OptionSpec option(OptionDef d) {
    return option(d, d.defaultText());
  }

  /**
   * The option for {@code d}: {@code --key VALUE} (or a flag when {@link OptionDef#arg()} is null). Its value is read
   * as the string given ({@link #value}); a FILE or DIR is typed as a path only so that shells complete file names.
   *
   * @param shownDefault the default the help shows, or null
   */
  public static OptionSpec option(OptionDef d, String shownDefault) {
    List<String> description = new ArrayList<>();
    description.add(d.help() + (shownDefault == null ? "" : " [default " + shownDefault + "]"));
    if (d.env() != null) {
      description.add(d.env());
    }
    OptionSpec.Builder b = OptionSpec.builder(d.flag()).description(description.toArray(String[]::new)).userObject(d);
    if (d.arg() == null) {
      return b.arity("0").type(boolean.class).build();
    }
    b.arity("1").paramLabel(d.arg()).hideParamSyntax(true).preprocessor(CliSpec::needsValue);
    if (!d.choices().isEmpty()) {
      b.completionCandidates(d.choices());
    }
    if (d.arg().endsWith("FILE") || d.arg().endsWith("DIR")) {
      b.type(Path.class).converters(s -> s);
    } else {
      b.type(String.class);
    }
    return b.build();
  }

  /** {@code -h, --help}. */
  public static OptionSpec helpOption() {
    return OptionSpec.builder("-h", "--help").usageHelp(true).description("print this help").build();
  }

  /** {@code -V, --version}. */
  public static OptionSpec versionOption() {
    return OptionSpec.builder("-V", "--version").versionHelp(true).description("print the version").build();
  }

  /**
   * Positional parameters at {@code index} ({@code "0"}, {@code "1..*"}), read as strings.
   *
   * @param candidates what a shell completes there; empty for nothing
   */
  public static PositionalParamSpec positional(String label, String index, List<String> candidates, String description) {
    boolean many = index.contains("..");
    PositionalParamSpec.Builder b = PositionalParamSpec.builder().index(index).arity(many ? "0..*" : "0..1").paramLabel(label)
        .hideParamSyntax(true).description(description);
    if (many) {
      b.type(List.class).auxiliaryTypes(String.class);
    } else {
      b.type(String.class);
    }
    if (!candidates.isEmpty()) {
      b.completionCandidates(candidates);
    }
    return b.build();
  }

  /** Every positional argument, for commands that check their own: hidden from usage and completion. */
  public static PositionalParamSpec words() {
    return PositionalParamSpec.builder().index("0..*").arity("0..*").paramLabel("ARG").type(List.class).auxiliaryTypes(String.class)
        .hidden(true).build();
  }

  /** The positional arguments {@code spec} was given in its last parse, in order. */
  public static List<String> positionals(CommandSpec spec) {
    List<String> out = new ArrayList<>();
    for (PositionalParamSpec p : spec.positionalParameters()) {
      out.addAll(p.originalStringValues());
    }
    return out;
  }

  /** A command line for {@code spec} (and its subcommands) that prints without colours. */
  public static CommandLine commandLine(CommandSpec spec) {
    CommandLine cl = new CommandLine(spec);
    cl.setColorScheme(Help.defaultColorScheme(Ansi.OFF));
    return cl;
  }

  /** @throws ParameterException when the arguments do not fit {@code spec} (see {@link #failure}) */
  public static ParseResult parse(CommandSpec spec, String... args) {
    return commandLine(spec).parseArgs(args);
  }

  /** The usage help of {@code spec}. */
  public static String usage(CommandSpec spec) {
    CommandLine cl = spec.commandLine() != null ? spec.commandLine() : commandLine(spec);
    return cl.getUsageMessage();
  }

  /** The value given for {@code d} on the command line, or null. */
  public static String value(ParseResult r, OptionDef d) {
    OptionSpec o = r.matchedOption(d.flag());
    if (o == null) {
      return null;
    }
    if (d.arg() == null) {
      return "true";
    }
    List<String> given = o.originalStringValues();
    return given.isEmpty() ? null : given.get(given.size() - 1);
  }

  /** The value of {@code d}: the command line's, else its environment variable's (if set and not blank), else its default. */
  public static String value(ParseResult r, OptionDef d, Map<String, String> env) {
    String v = value(r, d);
    if (v == null && d.env() != null) {
      v = env.get(d.env());
      v = v == null || v.isBlank() ? null : v;
    }
    return v != null ? v : d.defaultValue();
  }

  /** The definition an option was made from, or null. */
  public static OptionDef def(OptionSpec o) {
    return o.userObject() instanceof OptionDef d ? d : null;
  }

  /** Text for picocli's usage sections, which are format strings: {@code %} escaped. */
  public static String text(String s) {
    return s.replace("%", "%%");
  }

  /**
   * The options' table as the usage shows it: {@code --name VALUE} and the description, in the order given, wrapped at
   * spaces only (picocli's own layout breaks lines inside paths and URLs).
   */
  public static String optionTable(Help help, List<OptionSpec> options) {
    List<String[]> rows = new ArrayList<>();
    for (OptionSpec o : options) {
      String[] names = o.names();
      String shortName = names.length > 1 && names[0].length() == 2 ? names[0] : null;
      String longName = names[names.length - 1];
      String left = (shortName == null ? "    " : shortName + ", ") + longName + (o.arity().max() == 0 ? "" : " " + o.paramLabel());
      String[] row = new String[o.description().length + 1];
      row[0] = left;
      System.arraycopy(o.description(), 0, row, 1, o.description().length);
      rows.add(row);
    }
    return rows(rows, help.commandSpec().usageMessage().width());
  }

  /** Rows of two columns (a name, what it is), laid out as the usage lays out options. */
  public static String table(Help help, Map<String, String> rows) {
    List<String[]> list = new ArrayList<>();
    rows.forEach((k, v) -> list.add(new String[] {k, v}));
    return rows(list, help.commandSpec().usageMessage().width());
  }

  /**
   * Each row's first cell in the left column, each other cell a paragraph in the right column (its continuation
   * lines indented by two); a left cell too wide for the column puts its paragraphs on the lines below.
   */
  static String rows(List<String[]> rows, int width) {
    int left = 0;
    for (String[] r : rows) {
      if (r[0].length() <= LONG_OPTIONS_MAX_WIDTH) {
        left = Math.max(left, r[0].length());
      }
    }
    int column = 2 + left + 3;
    StringBuilder b = new StringBuilder();
    for (String[] r : rows) {
      StringBuilder line = new StringBuilder("  ").append(r[0]);
      for (int i = 1; i < r.length; i++) {
        boolean first = true;
        for (String wrapped : wrap(r[i], width - column - 2)) {
          if (line.length() > column - 1) {
            b.append(line.toString().stripTrailing()).append('\n');
            line.setLength(0);
          }
          line.append(" ".repeat(column + (first ? 0 : 2) - line.length())).append(wrapped);
          first = false;
        }
      }
      b.append(line.toString().stripTrailing()).append('\n');
    }
    return b.toString();
  }

  /** {@code text} in lines of at most {@code width}, broken at spaces (a longer word gets a line of its own). */
  static List<String> wrap(String text, int width) {
    List<String> lines = new ArrayList<>();
    StringBuilder line = new StringBuilder();
    for (String word : text.split(" ")) {
      if (line.length() > 0 && line.length() + 1 + word.length() > width) {
        lines.add(line.toString());
        line.setLength(0);
      }
      line.append(line.length() > 0 ? " " : "").append(word);
    }
    lines.add(line.toString());
    return lines;
  }

  /**
   * What the command does, in one line, for the command list of the jar's usage. It is {@code spec}'s header, which its
   * own usage does not show.
   */
  public static void summary(CommandSpec spec, String summary) {
    spec.usageMessage().header(text(summary)).sectionKeys(spec.usageMessage().sectionKeys().stream()
        .filter(k -> !k.equals(UsageMessageSpec.SECTION_KEY_HEADER_HEADING)
            && !k.equals(UsageMessageSpec.SECTION_KEY_HEADER)).toList());
  }

  /**
   * Adds a usage section to {@code spec}, after the section {@code after} (a {@code UsageMessageSpec.SECTION_KEY_*}
   * or one added before).
   */
  public static void section(CommandSpec spec, String key, String after, CommandLine.IHelpSectionRenderer renderer) {
    List<String> keys = new ArrayList<>(spec.usageMessage().sectionKeys());
    keys.add(keys.indexOf(after) + 1, key);
    spec.usageMessage().sectionKeys(keys);
    spec.usageMessage().sectionMap().put(key, renderer);
  }

  private static List<OptionSpec> visible(List<OptionSpec> options) {
    return options.stream().filter(o -> !o.hidden()).toList();
  }

  /** A parse error in pullmesh's words. */
  public record Failure(Kind kind, String subject, String suggestion, String detail) {
    public enum Kind { UNKNOWN_OPTION, NEEDS_VALUE, GIVEN_TWICE, UNEXPECTED, OTHER }

    /**
     * {@code unknown option --lisen; did you mean --listen?}, {@code --cache-dir needs a value}, {@code --listen given
     * twice}, {@code unexpected argument 'x'}, or picocli's own message.
     */
    public String text() {
      return switch (kind) {
        case UNKNOWN_OPTION -> "unknown option " + subject + didYouMean(suggestion);
        case NEEDS_VALUE -> subject + " needs a value";
        case GIVEN_TWICE -> subject + " given twice";
        case UNEXPECTED -> "unexpected argument '" + subject + "'" + didYouMean(suggestion);
        case OTHER -> detail;
      };
    }
  }

  /** What went wrong, from picocli's exception. */
  public static Failure failure(ParameterException e) {
    CommandSpec spec = e.getCommandLine().getCommandSpec();
    if (e instanceof MissingParameterException m && !m.getMissing().isEmpty() && m.getMissing().get(0).isOption()) {
      return new Failure(Failure.Kind.NEEDS_VALUE, ((OptionSpec) m.getMissing().get(0)).longestName(), null, e.getMessage());
    }
    if (e instanceof OverwrittenOptionException o && o.getOverwritten().isOption()) {
      return new Failure(Failure.Kind.GIVEN_TWICE, ((OptionSpec) o.getOverwritten()).longestName(), null, e.getMessage());
    }
    if (e instanceof UnmatchedArgumentException u && !u.getUnmatched().isEmpty()) {
      String first = u.getUnmatched().get(0);
      if (first.startsWith("-") && first.length() > 1) {
        String name = first.contains("=") ? first.substring(0, first.indexOf('=')) : first;
        return new Failure(Failure.Kind.UNKNOWN_OPTION, name, closestOption(name, spec.optionsMap().keySet()), e.getMessage());
      }
      return new Failure(Failure.Kind.UNEXPECTED, first, closest(first, spec.subcommands().keySet()), e.getMessage());
    }
    return new Failure(Failure.Kind.OTHER, null, null, e.getMessage());
  }

  /** {@code "; did you mean X?"}, or nothing for null. */
  public static String didYouMean(String suggestion) {
    return suggestion == null ? "" : "; did you mean " + suggestion + "?";
  }

  /** The long option ({@code --name}) closest to {@code given}, compared without the dashes, or null. */
  public static String closestOption(String given, Collection<String> names) {
    if (!given.startsWith("--")) {
      return null;
    }
    List<String> keys = names.stream().filter(n -> n.startsWith("--")).map(n -> n.substring(2)).toList();
    String key = closest(given.substring(2), keys);
    return key == null ? null : "--" + key;
  }

  /** The candidate closest to {@code word}, if it is a likely typo of it (at most 3 edits), else null. */
  public static String closest(String word, Collection<String> candidates) {
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String c : candidates) {
      int d = distance(word, c);
      if (d < bestDistance) {
        best = c;
        bestDistance = d;
      }
    }
    return bestDistance <= 3 && bestDistance < word.length() ? best : null;
  }

  /** Levenshtein distance. */
  static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  /**
   * An option given as the last argument, or followed by another option ({@code --cache-dir --listen ...}), has no
   * value: say so (picocli would call it a missing parameter, or take an unknown {@code --x} for the value).
   */
  private static boolean needsValue(Stack<String> args, CommandSpec spec, ArgSpec arg, Map<String, Object> info) {
    boolean separate = " ".equals(info.get("separator"));
    if (separate && (args.isEmpty() || args.peek().startsWith("--"))) {
      throw new MissingParameterException(spec.commandLine(), arg, ((OptionSpec) arg).longestName() + " needs a value");
    }
    return false;
  }
}
