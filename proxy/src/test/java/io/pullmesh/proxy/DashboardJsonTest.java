package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The Grafana dashboards in {@code dashboards/} are well-formed: JSON that parses, unique panel ids, a layout
 * without overlaps, every query on the data source variable and filtered by the instance variable, no unknown
 * variables, every metric they use documented in docs/metrics.md. (Whether the queries are valid PromQL and
 * return data is DashboardsIT's job, against a real Prometheus.)
 */
class DashboardJsonTest {
  static final JsonObject DATASOURCE = new JsonObject().put("type", "prometheus").put("uid", "${datasource}");
  static final Map<String, String> SAMPLE_VARS = Map.of("instance", "x", "__rate_interval", "1m", "__interval", "1m", "__range", "1h");
  /** A metric name in an expression: one of the families pullmesh exposes. */
  static final Pattern METRIC = Pattern.compile("\\b((?:pullmesh|jvm|process|system|vertx|up)(?:_[a-z0-9]+)*)\\b");

  @Test
  void theDashboardsParseAndHaveUniqueUidsAndTitles() {
    List<Path> files = DashboardFiles.dashboardFiles();
    assertTrue(files.size() >= 2, "an overview and a node dashboard: " + files);
    Set<String> uids = new HashSet<>();
    Set<String> titles = new HashSet<>();
    for (Path f : files) {
      JsonObject d = DashboardFiles.read(f);
      String uid = d.getString("uid");
      assertNotNull(uid, f + " has a uid (stable links and provisioning)");
      assertTrue(uid.matches("[a-zA-Z0-9_-]{1,40}"), f + ": uid " + uid);
      assertTrue(uids.add(uid), f + ": uid " + uid + " used twice");
      assertTrue(titles.add(d.getString("title")), f + ": title used twice");
      assertFalse(d.containsKey("id") && d.getValue("id") != null, f + ": no database id (Grafana assigns one)");
      assertFalse(d.containsKey("__inputs"), f + ": no __inputs (provisioning does not resolve them; the datasource variable does the job)");
      assertFalse(DashboardFiles.panels(d).isEmpty(), f + " has panels");
    }
  }

  @Test
  void panelIdsAreUniqueAndPanelsDoNotOverlap() {
    for (Path f : DashboardFiles.dashboardFiles()) {
      JsonObject d = DashboardFiles.read(f);
      Set<Integer> ids = new HashSet<>();
      List<int[]> boxes = new ArrayList<>();
      for (JsonObject p : DashboardFiles.panels(d)) {
        Integer id = p.getInteger("id");
        assertNotNull(id, f + ": panel without id: " + p.getString("title"));
        assertTrue(ids.add(id), f + ": panel id " + id + " used twice");
        assertFalse(p.getString("title", "").isBlank(), f + ": panel " + id + " has a title");
        JsonObject g = p.getJsonObject("gridPos");
        assertNotNull(g, f + ": panel " + id + " has a gridPos");
        int x = g.getInteger("x");
        int y = g.getInteger("y");
        int w = g.getInteger("w");
        int h = g.getInteger("h");
        assertTrue(x >= 0 && w >= 1 && x + w <= 24 && y >= 0 && h >= 1, f + ": panel " + id + " gridPos " + g);
        for (int[] o : boxes) {
          boolean overlap = x < o[0] + o[2] && o[0] < x + w && y < o[1] + o[3] && o[1] < y + h;
          assertFalse(overlap, f + ": panel " + id + " " + g + " overlaps panel " + o[4]);
        }
        boxes.add(new int[] {x, y, w, h, id});
      }
    }
  }

  @Test
  void everyQueryUsesTheDatasourceVariableAndHasAnExpression() {
    int targets = 0;
    for (Path f : DashboardFiles.dashboardFiles()) {
      for (JsonObject p : DashboardFiles.panels(DashboardFiles.read(f))) {
        JsonArray ts = p.getJsonArray("targets");
        if ("row".equals(p.getString("type"))) {
          assertTrue(ts == null || ts.isEmpty(), f + ": row " + p.getValue("id") + " has no queries");
          continue;
        }
        assertTrue(ts != null && !ts.isEmpty(), f + ": panel " + p.getValue("id") + " \"" + p.getString("title") + "\" has queries");
        assertEquals(DATASOURCE, p.getJsonObject("datasource"), f + ": panel " + p.getValue("id") + " uses ${datasource}");
        Set<String> refIds = new HashSet<>();
        for (Object o : ts) {
          JsonObject t = (JsonObject) o;
          targets++;
          String where = f.getFileName() + " / panel " + p.getValue("id") + " / " + t.getString("refId");
          assertTrue(refIds.add(t.getString("refId")), where + ": refId unique in its panel");
          assertEquals(DATASOURCE, t.getJsonObject("datasource"), where + ": the query uses ${datasource}");
          String expr = t.getString("expr");
          assertTrue(expr != null && !expr.isBlank(), where + ": an expression");
          assertFalse(t.getString("legendFormat", "").isBlank(), where + ": a legend");
        }
      }
    }
    assertTrue(targets >= 40, "queries: " + targets);
  }

  @Test
  void theTemplateHasADatasourceAndAnInstanceVariable() {
    for (Path f : DashboardFiles.dashboardFiles()) {
      JsonArray vars = DashboardFiles.read(f).getJsonObject("templating").getJsonArray("list");
      Map<String, JsonObject> byName = new HashMap<>();
      vars.forEach(o -> byName.put(((JsonObject) o).getString("name"), (JsonObject) o));
      JsonObject ds = byName.get("datasource");
      assertNotNull(ds, f + ": a datasource variable");
      assertEquals("datasource", ds.getString("type"), f.toString());
      assertEquals("prometheus", ds.getString("query"), f + ": any Prometheus data source");
      JsonObject inst = byName.get("instance");
      assertNotNull(inst, f + ": an instance variable");
      assertEquals("query", inst.getString("type"), f.toString());
      assertEquals(DATASOURCE, inst.getJsonObject("datasource"), f + ": the instance variable asks ${datasource}");
      assertEquals("label_values(pullmesh_cache_bytes, instance)", inst.getJsonObject("query").getString("query"), f.toString());
      assertEquals(".*", inst.getString("allValue"), f + ": All means every instance (a regex)");
    }
  }

  /** Every metric selector in every query carries {@code instance=~"$instance"}: no panel ignores the instance picker. */
  @Test
  void everySelectorIsFilteredByTheInstanceVariable() {
    for (DashboardFiles.Target t : DashboardFiles.targets()) {
      Matcher m = METRIC.matcher(t.expr());
      while (m.find()) {
        String rest = t.expr().substring(m.end());
        assertTrue(rest.startsWith("{"), t.where() + ": " + m.group(1) + " without a label selector in " + t.expr());
        String labels = rest.substring(0, rest.indexOf('}') + 1);
        assertTrue(labels.contains("instance=~\"$instance\""), t.where() + ": " + m.group(1) + labels + " not filtered by $instance");
      }
    }
  }

  @Test
  void queriesUseOnlyKnownVariables() {
    for (DashboardFiles.Target t : DashboardFiles.targets()) {
      try {
        String s = DashboardFiles.substitute(t.expr(), SAMPLE_VARS);
        assertFalse(s.contains("$"), t.where() + ": " + s);
      } catch (AssertionError e) {
        fail(t.where() + ": " + e.getMessage());
      }
    }
  }

  @Test
  void everyMetricTheDashboardsAndAlertsUseIsInTheCatalogue() throws Exception {
    String doc = Files.readString(DashboardFiles.dir().resolve("..").resolve("docs").resolve("metrics.md").normalize());
    Set<String> used = new TreeSet<>();
    for (DashboardFiles.Target t : DashboardFiles.targets()) {
      Matcher m = METRIC.matcher(t.expr());
      while (m.find()) {
        used.add(m.group(1));
      }
    }
    Matcher m = METRIC.matcher(Files.readString(DashboardFiles.dir().resolve("prometheus").resolve("alerts.yml")));
    while (m.find()) {
      if (m.group(1).contains("_")) {
        used.add(m.group(1));
      }
    }
    used.remove("up");
    List<String> missing = used.stream().filter(n -> !doc.contains("`" + n)).toList();
    assertTrue(missing.isEmpty(), "used but not in docs/metrics.md: " + missing);
  }
}
