package io.pullmesh.proxy.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

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

  private AdminCli() {}

  public static String usage() {
    return """
        Usage: java -jar pullmesh-proxy.jar admin <command> [--url URL] [--token TOKEN] [--json]

        Commands:
          stats                      cache, disk, download and traffic totals
          models                     cached models: size, hits, last access, pinned, last upstream check
          blobs                      cached blobs: size, hits, last access, pinned, in use, models using them
          downloads                  downloads in progress: progress, rate, source
          pins                       pinned models
          aliases                    alias names and the models they serve
          pin NAME                   keep NAME's blobs whatever the space pressure
          unpin NAME                 let NAME's blobs be evicted again
          evict NAME|sha256:DIGEST   remove a model's blobs, or one blob, from the cache now
          refresh NAME               ask upstream now what NAME's tag points to
          prefetch NAME...           fetch models into the cache, with a progress bar
          alias NAME TARGET          make NAME serve TARGET (name:tag or name@sha256:digest)
          unalias NAME               remove an alias
          verify                     re-hash every cached blob on the server; corrupt ones go to quarantine/

        Options:
          --url URL                  the proxy [default %s]
                                     PULLMESH_ADMIN_URL
          --token TOKEN              the proxy's --admin-token (changes need it when one is set)
                                     PULLMESH_ADMIN_TOKEN
          --json                     print the server's JSON instead of tables
          --help                     print this help

        NAME is model:tag as for ollama pull: qwen2.5:7b means library/qwen2.5:7b, and the tag defaults to latest.
        Exit codes: 0 ok, 1 the operation failed or found problems, 2 bad usage, cannot connect, or refused.
        """.formatted(DEFAULT_URL);
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
    String url = env.getOrDefault("PULLMESH_ADMIN_URL", "");
    String token = env.getOrDefault("PULLMESH_ADMIN_TOKEN", "");
    boolean json = false;
    List<String> positional = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      String value = null;
      int eq = a.indexOf('=');
      if (a.startsWith("--") && eq > 0) {
        value = a.substring(eq + 1);
        a = a.substring(0, eq);
      }
      switch (a) {
        case "--help", "-h" -> {
          return new Invocation(null, List.of(), null, null, false, true);
        }
        case "--json" -> json = true;
        case "--url", "--token" -> {
          if (value == null) {
            if (i + 1 >= args.length) {
              throw CliException.usage(a + " needs a value (see admin --help)");
            }
            value = args[++i];
          }
          if (a.equals("--url")) {
            url = value;
          } else {
            token = value;
          }
        }
        default -> {
          if (a.equals("help") && positional.isEmpty()) {
            return new Invocation(null, List.of(), null, null, false, true);
          }
          if (a.startsWith("-")) {
            throw CliException.usage("unknown option " + a + " (options: --url URL, --token TOKEN, --json; see admin --help)");
          }
          positional.add(args[i]);
        }
      }
    }
    if (positional.isEmpty()) {
      throw CliException.usage("which command? (stats, models, blobs, downloads, pins, aliases, pin, unpin, evict, refresh, "
          + "prefetch, alias, unalias, verify; see admin --help)");
    }
    return new Invocation(positional.get(0), List.copyOf(positional.subList(1, positional.size())), url(url.isBlank() ? DEFAULT_URL : url),
        token.isBlank() ? null : token.strip(), json, false);
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
    long now = System.currentTimeMillis();
    switch (cmd) {
      case "stats", "models", "blobs", "downloads", "pins", "aliases" -> {
        arguments(cmd, a, 0, "");
        AdminClient.Reply r = client.get(cmd);
        if (inv.json()) {
          out.println(r.text().strip());
          return 0;
        }
        out.print(switch (cmd) {
          case "stats" -> Listings.stats(r.object());
          case "models" -> Listings.models(r.array(), now);
          case "blobs" -> Listings.blobs(r.array(), now);
          case "downloads" -> Listings.downloads(r.array(), now);
          case "pins" -> Listings.pins(r.array(), now);
          default -> Listings.aliases(r.array(), now);
        });
        return 0;
      }
      case "pin", "unpin", "refresh", "unalias" -> {
        arguments(cmd, a, 1, " NAME");
        return change(inv, out, client.post(cmd, new JsonObject().put("name", a.get(0))));
      }
      case "evict" -> {
        arguments(cmd, a, 1, " NAME|sha256:DIGEST");
        String what = a.get(0).strip();
        JsonObject body = what.startsWith("sha256:") ? new JsonObject().put("digest", what) : new JsonObject().put("name", what);
        return change(inv, out, client.post(cmd, body));
      }
      case "alias" -> {
        arguments(cmd, a, 2, " NAME TARGET");
        return change(inv, out, client.post(cmd, new JsonObject().put("name", a.get(0)).put("target", a.get(1))));
      }
      case "prefetch" -> {
        if (a.isEmpty()) {
          throw CliException.usage("prefetch needs at least one NAME (e.g. admin prefetch qwen2.5:7b)");
        }
        return watch.prefetch(a);
      }
      case "verify" -> {
        arguments(cmd, a, 0, "");
        return watch.verify();
      }
      default -> throw CliException.usage("unknown command '" + cmd + "' (stats, models, blobs, downloads, pins, aliases, pin, "
          + "unpin, evict, refresh, prefetch, alias, unalias, verify; see admin --help)");
    }
  }

  private static void arguments(String cmd, List<String> a, int n, String form) {
    if (a.size() != n) {
      throw CliException.usage(cmd + " takes " + (n == 0 ? "no arguments" : n == 1 ? "one argument" : n + " arguments")
          + ", got " + a.size() + " (usage: admin " + cmd + form + ")");
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
