package io.pullmesh.proxy;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** The repository's {@code dashboards/} directory: the Grafana dashboards and the Prometheus files, for tests. */
final class DashboardFiles {
  private DashboardFiles() {}

  /** One query of one panel. */
  record Target(String dashboard, JsonObject panel, JsonObject target) {
    String expr() {
      return target.getString("expr");
    }

    /** For messages: dashboard, panel id and title, refId. */
    String where() {
      return dashboard + " / panel " + panel.getValue("id") + " \"" + panel.getString("title") + "\" / " + target.getString("refId");
    }
  }

  /** {@code dashboards/} of this checkout: found from the working directory (the module's, under Maven) upwards. */
  static Path dir() {
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      Path d = p.resolve("dashboards");
      if (Files.isRegularFile(d.resolve("prometheus").resolve("alerts.yml"))) {
        return d;
      }
    }
    throw new AssertionError("no dashboards/prometheus/alerts.yml above " + Path.of("").toAbsolutePath());
  }

  /** Every dashboard file ({@code dashboards/*.json}), by file name. */
  static List<Path> dashboardFiles() {
    try (Stream<Path> s = Files.list(dir())) {
      return s.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static JsonObject read(Path file) {
    try {
      return new JsonObject(Files.readString(file));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The dashboard's panels, those nested in rows included. */
  static List<JsonObject> panels(JsonObject dashboard) {
    List<JsonObject> out = new ArrayList<>();
    collect(dashboard.getJsonArray("panels", new JsonArray()), out);
    return out;
  }

  private static void collect(JsonArray panels, List<JsonObject> out) {
    for (Object o : panels) {
      JsonObject p = (JsonObject) o;
      out.add(p);
      if (p.containsKey("panels")) {
        collect(p.getJsonArray("panels"), out);
      }
    }
  }

  /** Every target of every panel of every dashboard file. */
  static List<Target> targets() {
    List<Target> out = new ArrayList<>();
    for (Path f : dashboardFiles()) {
      JsonObject d = read(f);
      for (JsonObject p : panels(d)) {
        for (Object t : p.getJsonArray("targets", new JsonArray())) {
          out.add(new Target(f.getFileName().toString(), p, (JsonObject) t));
        }
      }
    }
    return out;
  }

  private static final Pattern VARIABLE = Pattern.compile("\\$\\{([A-Za-z0-9_]+)(?::[^}]*)?}|\\$([A-Za-z0-9_]+)|\\[\\[([A-Za-z0-9_]+)]]");

  /**
   * {@code expr} with Grafana's variables replaced by {@code values} ({@code $name}, {@code ${name}},
   * {@code ${name:fmt}} and {@code [[name]]}); a variable missing from {@code values} is an error.
   */
  static String substitute(String expr, Map<String, String> values) {
    Matcher m = VARIABLE.matcher(expr);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      String name = m.group(1) != null ? m.group(1) : m.group(2) != null ? m.group(2) : m.group(3);
      String v = values.get(name);
      if (v == null) {
        throw new AssertionError("unknown variable $" + name + " in " + expr);
      }
      m.appendReplacement(out, Matcher.quoteReplacement(v));
    }
    m.appendTail(out);
    return out.toString();
  }
}
