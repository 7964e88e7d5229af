package io.pullmesh.proxy.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.UsageMessageSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * {@code java -jar pullmesh-proxy.jar admin <command> [--url URL] [--token TOKEN] [--json]}: a client of a running
 * proxy's admin API. Exit codes: 0 ok, 1 the operation failed or found problems, 2 bad usage, cannot connect, or
 * refused by the server.
 */
public final class AdminCli {
  public static final String DEFAULT_URL = "http://127.0.0.1:9200";

  /** How often to poll long work and print plain progress lines, and the HTTP timeouts. */
  public record Timing(Duration poll, Duration plainEvery, Duration connectTimeout, Duration requestTimeout) {
    public static Timing defaults() {
      return new Timing(Duration.ofMillis(250), Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(120));
    }
  }

  /** What the command line asked for. */
  record Invocation(String command, List<String> args, URI url, String token, boolean json, boolean help) {}

  static final OptionDef URL = new OptionDef.Basic("url", "URL", "the proxy", DEFAULT_URL, "PULLMESH_ADMIN_URL");
  static final OptionDef TOKEN = new OptionDef.Basic("token", "TOKEN", "the proxy's --admin-token (changes need it when one is set)", null,
      "PULLMESH_ADMIN_TOKEN");
  static final OptionDef JSON = OptionDef.of("json", null, "print the server's JSON instead of tables");

  /** The commands: the arguments each takes (-1: one or more) and what it does. */
  enum Command {
    STATS("", 0, "cache, disk, download and traffic totals"),
    MODELS("", 0, "cached models: size, hits, last access, pinned, last upstream check"),
    BLOBS("", 0, "cached blobs: size, hits, last access, pinned, in use, models using them"),
    DOWNLOADS("", 0, "downloads in progress: progress, rate, source"),
    PINS("", 0, "pinned models"),
    ALIASES("", 0, "alias names and the models they serve"),
    PIN(" NAME", 1, "keep NAME's blobs whatever the space pressure"),
    UNPIN(" NAME", 1, "let NAME's blobs be evicted again"),
    EVICT(" NAME|sha256:DIGEST", 1, "remove a model's blobs, or one blob, from the cache now"),
    REFRESH(" NAME", 1, "ask upstream now what NAME's tag points to"),
    PREFETCH(" NAME...", -1, "fetch models into the cache, with a progress bar"),
    ALIAS(" NAME TARGET", 2, "make NAME serve TARGET (name:tag or name@sha256:digest)"),
    UNALIAS(" NAME", 1, "remove an alias"),
    VERIFY("", 0, "re-hash every cached blob on the server; corrupt ones go to quarantine/");

    final String form;
    final int args;
    final String help;

    Command(String form, int args, String help) {
      this.form = form;
      this.args = args;
      this.help = help;
    }

    String word() {
      return name().toLowerCase(Locale.ROOT);
    }

    static List<String> words() {
      return Arrays.stream(values()).map(Command::word).toList();
    }

    /** @throws CliException for a command that does not exist */
    static Command named(String word) {
      for (Command c : values()) {
        if (c.word().equals(word)) {
          return c;
        }
      }
      throw CliException.usage("unknown command '" + word + "'" + CliSpec.didYouMean(CliSpec.closest(word, words())) + " ("
          + String.join(", ", words()) + "; see admin --help)");
    }

    /** @throws CliException when {@code a} is not as many arguments as the command takes */
    void check(List<String> a) {
      if (args < 0 && a.isEmpty()) {
        throw CliException.usage(word() + " needs at least one NAME (e.g. admin " + word() + " qwen2.5:7b)");
      }
      if (args >= 0 && a.size() != args) {
        throw CliException.usage(word() + " takes " + (args == 0 ? "no arguments" : args == 1 ? "one argument" : args + " arguments")
            + ", got " + a.size() + " (usage: admin " + word() + form + ")");
      }
    }
  }

  private AdminCli() {}

  /** The {@code admin} command line: its options, the command and its arguments. */
  public static CommandSpec spec() {
    CommandSpec spec = CliSpec.command("admin");
    spec.usageMessage().customSynopsis("java -jar pullmesh-proxy.jar admin <command> [--url URL] [--token TOKEN] [--json]")
        .footer("", "NAME is model:tag as for ollama pull: qwen2.5:7b means library/qwen2.5:7b; the tag defaults to latest.",
            "Exit codes: 0 ok, 1 the operation failed or found problems, 2 bad usage, cannot connect, or refused.");
    CliSpec.summary(spec, "talk to a running proxy: " + String.join(", ", Command.words()) + " (admin --help)");
    CliSpec.section(spec, "commands", UsageMessageSpec.SECTION_KEY_SYNOPSIS, help -> {
      Map<String, String> rows = new LinkedHashMap<>();
      for (Command c : Command.values()) {
        rows.put(c.word() + c.form, c.help);
      }
      return "\nCommands:\n" + CliSpec.table(help, rows);
    });
    for (OptionDef o : List.of(URL, TOKEN, JSON)) {
      spec.addOption(CliSpec.option(o));
    }
    spec.addOption(CliSpec.helpOption());
    spec.addPositional(CliSpec.positional("COMMAND", "0", Command.words(), "what to do"));
    spec.addPositional(CliSpec.positional("ARG", "1..*", List.of(), "its arguments"));
    return spec;
  }

  public static String usage() {
    return CliSpec.usage(spec());
  }

  /** Runs one admin command with the default timing. */
  public static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err, boolean terminal) {
    return run(args, env, out, err, terminal, Timing.defaults());
  }

  /** @param terminal whether stderr is a terminal (progress redrawn in place) */
  public static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err, boolean terminal, Timing timing) {
    try {
      Invocation inv = parse(args, env);
      if (inv.help()) {
        out.print(usage());
        return 0;
      }
      AdminClient client = new AdminClient(inv.url(), inv.token(), timing.connectTimeout(), timing.requestTimeout());
      ProgressDisplay display = new ProgressDisplay(err, terminal, System::nanoTime, timing.plainEvery().toNanos());
      Watch watch = new Watch(client, display, out, err, inv.json(), timing.poll());
      int code = execute(inv, client, watch, out);
      out.flush();
      return code;
    } catch (CliException e) {
      out.flush();
      err.println("pullmesh admin: " + e.getMessage());
      err.flush();
      return e.exitCode();
    }
  }

  static Invocation parse(String[] args, Map<String, String> env) {
    CommandSpec spec = spec();
    ParseResult r;
    try {
      r = CliSpec.parse(spec, args);
    } catch (ParameterException e) {
      CliSpec.Failure f = CliSpec.failure(e);
      throw CliException.usage(switch (f.kind()) {
        case NEEDS_VALUE -> f.text() + " (see admin --help)";
        case UNKNOWN_OPTION -> f.text() + " (options: --url URL, --token TOKEN, --json; see admin --help)";
        default -> f.text() + " (see admin --help)";
      });
    }
    List<String> positional = CliSpec.positionals(spec);
    if (r.isUsageHelpRequested() || (!positional.isEmpty() && positional.get(0).equals("help"))) {
      return new Invocation(null, List.of(), null, null, false, true);
    }
    if (positional.isEmpty()) {
      throw CliException.usage("which command? (" + String.join(", ", Command.words()) + "; see admin --help)");
    }
    String url = CliSpec.value(r, URL, env);
    String token = CliSpec.value(r, TOKEN, env);
    return new Invocation(positional.get(0), List.copyOf(positional.subList(1, positional.size())), url(url.isBlank() ? DEFAULT_URL : url),
        token == null || token.isBlank() ? null : token.strip(), CliSpec.value(r, JSON) != null, false);
  }

  private static URI url(String text) {
    try {
      URI u = new URI(text.strip());
      if (u.getScheme() == null || !(u.getScheme().equals("http") || u.getScheme().equals("https")) || u.getHost() == null) {
        throw new URISyntaxException(text, "not an http:// or https:// URL with a host");
      }
      return u;
    } catch (URISyntaxException e) {
      throw CliException.usage("--url '" + text + "' is not valid (expected e.g. " + DEFAULT_URL + ")");
    }
  }

  private static int execute(Invocation inv, AdminClient client, Watch watch, PrintStream out) {
    List<String> a = inv.args();
    String cmd = inv.command();
    Command c = Command.named(cmd);
    c.check(a);
    long now = System.currentTimeMillis();
    switch (c) {
      case STATS, MODELS, BLOBS, DOWNLOADS, PINS, ALIASES -> {
        AdminClient.Reply r = client.get(cmd);
        if (inv.json()) {
          out.println(r.text().strip());
          return 0;
        }
        out.print(switch (c) {
          case STATS -> Listings.stats(r.object());
          case MODELS -> Listings.models(r.array(), now);
          case BLOBS -> Listings.blobs(r.array(), now);
          case DOWNLOADS -> Listings.downloads(r.array(), now);
          case PINS -> Listings.pins(r.array(), now);
          default -> Listings.aliases(r.array(), now);
        });
        return 0;
      }
      case PIN, UNPIN, REFRESH, UNALIAS -> {
        return change(inv, out, client.post(cmd, new JsonObject().put("name", a.get(0))));
      }
      case EVICT -> {
        String what = a.get(0).strip();
        JsonObject body = what.startsWith("sha256:") ? new JsonObject().put("digest", what) : new JsonObject().put("name", what);
        return change(inv, out, client.post(cmd, body));
      }
      case ALIAS -> {
        return change(inv, out, client.post(cmd, new JsonObject().put("name", a.get(0)).put("target", a.get(1))));
      }
      case PREFETCH -> {
        return watch.prefetch(a);
      }
      default -> {
        return watch.verify();
      }
    }
  }

  private static int change(Invocation inv, PrintStream out, AdminClient.Reply r) {
    if (inv.json()) {
      out.println(r.text().strip());
      return 0;
    }
    JsonObject o = r.object();
    out.println(switch (inv.command()) {
      case "pin" -> "pinned " + o.getString("pinned") + (o.getString("note") != null ? " (" + o.getString("note") + ")" : "");
      case "unpin" -> "unpinned " + o.getString("unpinned");
      case "unalias" -> "removed alias " + o.getString("removed");
      case "alias" -> "alias " + o.getString("name") + " -> " + o.getString("target");
      case "evict" -> evicted(o);
      default -> refreshed(o);
    });
    return 0;
  }

  private static String evicted(JsonObject o) {
    JsonArray digests = o.getJsonArray("evicted", new JsonArray());
    if (digests.isEmpty()) {
      return "nothing to evict: none of its blobs is in the cache";
    }
    StringBuilder b = new StringBuilder("evicted " + Human.count(digests.size(), "blob") + ", freed "
        + Human.size(Listings.num(o, "freedBytes")));
    digests.forEach(d -> b.append("\n  ").append(d));
    return b.toString();
  }

  private static String refreshed(JsonObject o) {
    String name = o.getString("name");
    String before = o.getString("before");
    String after = o.getString("after");
    if (before == null) {
      return name + ": now cached at " + after;
    }
    return o.getBoolean("changed", false) ? name + ": changed upstream, " + before + " -> " + after
        : name + ": unchanged, " + after;
  }
}
