package io.pullmesh.proxy.cli;

import io.pullmesh.proxy.ProxyConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The README's table of the proxy's options, in Markdown, made from {@link ProxyConfig.Option} like {@code --help}.
 * {@code java -cp proxy/target/pullmesh-proxy.jar io.pullmesh.proxy.cli.OptionTable README.md} rewrites the table in
 * the README (between {@link #BEGIN} and {@link #END}); with no argument it prints it. A test fails while the README
 * differs.
 */
public final class OptionTable {
  static final String BEGIN = "<!-- options: made from ProxyConfig.Option by io.pullmesh.proxy.cli.OptionTable; do not edit by hand -->";
  static final String END = "<!-- end of options -->";

  private OptionTable() {}

  /** The table: flag and value, environment variable, default, what it does. */
  public static String markdown() {
    StringBuilder b = new StringBuilder("| flag | env | default | |\n|---|---|---|---|\n");
    for (ProxyConfig.Option o : ProxyConfig.Option.values()) {
      // a default described in words (computed, or this machine's) shows as those words, so the table is the same anywhere
      String shown = o.defaultText() != null && !o.defaultText().equals(o.defaultValue()) ? text(o.defaultText())
          : o.defaultValue() != null ? code(o.defaultValue()) : "";
      b.append("| ").append(code(o.flag() + " " + o.arg())).append(" | ").append(code(o.env())).append(" | ").append(shown).append(" | ")
          .append(text(o.help())).append(" |\n");
    }
    return b.toString();
  }

  /**
   * {@code readme} with the table between its markers replaced by {@link #markdown()}.
   *
   * @throws IllegalArgumentException if it has no markers
   */
  public static String updated(String readme) {
    int begin = readme.indexOf(BEGIN);
    int end = readme.indexOf(END);
    if (begin < 0 || end < begin) {
      throw new IllegalArgumentException("no option table between " + BEGIN + " and " + END);
    }
    return readme.substring(0, begin + BEGIN.length()) + "\n" + markdown() + readme.substring(end);
  }

  /** The table between the markers of {@code readme}, as it is there. */
  public static String current(String readme) {
    int begin = readme.indexOf(BEGIN);
    int end = readme.indexOf(END);
    if (begin < 0 || end < begin) {
      throw new IllegalArgumentException("no option table between " + BEGIN + " and " + END);
    }
    return readme.substring(begin + BEGIN.length() + 1, end);
  }

  /** {@code OptionTable [README.md]}: rewrites the README's table, or prints the table. */
  public static void main(String[] args) throws IOException {
    if (args.length == 0) {
      System.out.print(markdown());
      return;
    }
    Path readme = Path.of(args[0]);
    String before = Files.readString(readme, StandardCharsets.UTF_8);
    String after = updated(before);
    if (!after.equals(before)) {
      Files.writeString(readme, after, StandardCharsets.UTF_8);
    }
    System.out.println(readme + (after.equals(before) ? ": the option table was up to date" : ": option table rewritten"));
  }

  /** A code span; a {@code |} escaped for the table. */
  private static String code(String s) {
    return "`" + s.replace("|", "\\|") + "`";
  }

  /** Plain text: the characters Markdown or HTML would take for markup escaped (an underscore inside a word is not markup). */
  private static String text(String s) {
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("`", "\\`").replace("<", "&lt;")
        .replace(">", "&gt;");
  }
}
