package io.pullmesh.proxy.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;

/** The admin API's listings as text for people: aligned tables, human sizes, relative times. */
final class Listings {
  private Listings() {}

  static long num(JsonObject o, String key) {
    Object v = o == null ? null : o.getValue(key);
    return v instanceof Number n ? n.longValue() : 0;
  }

  private static List<JsonObject> objects(JsonArray a) {
    List<JsonObject> out = new ArrayList<>();
    for (int i = 0; i < a.size(); i++) {
      out.add(a.getJsonObject(i));
    }
    return out;
  }

  static String stats(JsonObject s) {
    JsonObject cache = s.getJsonObject("cache", new JsonObject());
    JsonObject disk = s.getJsonObject("disk", new JsonObject());
    JsonObject catalog = s.getJsonObject("catalog", new JsonObject());
    JsonObject traffic = s.getJsonObject("traffic", new JsonObject());
    long bytes = num(cache, "bytes");
    long limit = num(cache, "limitBytes");
    long total = num(disk, "totalBytes");
    StringBuilder b = new StringBuilder();
    row(b, "cache", cache.getString("path", "?"));
    row(b, "", Human.size(bytes) + " in " + Human.count(num(cache, "blobs"), "blob") + ", limit " + Human.size(limit)
        + (limit > 0 ? " (" + bytes * 100 / limit + "% used)" : "") + ", " + Human.size(num(cache, "reservedBytes"))
        + " reserved for downloads, " + Human.size(num(cache, "partialBytes")) + " partial, "
        + Human.count(num(cache, "evictions"), "eviction"));
    row(b, "disk", Human.size(num(disk, "freeBytes")) + " free of " + Human.size(total));
    row(b, "downloads", num(s.getJsonObject("downloads", new JsonObject()), "active") + " active");
    row(b, "catalog", Human.count(num(catalog, "tags"), "tag") + ", " + Human.count(num(catalog, "manifests"), "manifest") + ", "
        + num(catalog, "pins") + " pinned, " + Human.count(num(catalog, "aliases"), "alias", "aliases"));
    row(b, "traffic", Human.size(num(traffic, "servedBytes")) + " served, " + Human.size(num(traffic, "upstreamBytes"))
        + " fetched upstream, " + Human.size(num(traffic, "savedBytes")) + " saved");
    return b.toString();
  }

  private static void row(StringBuilder b, String key, String value) {
    b.append(String.format("%-10s %s%n", key, value));
  }

  static String models(JsonArray models, long now) {
    Table t = new Table("NAME", ">SIZE", ">CACHED", ">HITS", "LAST ACCESS", "PINNED", "UPSTREAM CHECK", "DIGEST");
    for (JsonObject m : objects(models)) {
      long size = num(m, "sizeBytes");
      long cached = num(m, "cachedBytes");
      String cachedText = m.getBoolean("complete", false) ? "all" : size > 0 ? cached * 100 / size + "%" : "0%";
      String check = Human.ago(num(m, "checkedAt"), now) + (m.getBoolean("revalidationDue", false) ? " (due)" : "");
      int moves = m.getJsonArray("history", new JsonArray()).size();
      if (moves > 1) {
        check += ", moved " + (moves - 1) + "x";
      }
      t.row(m.getString("name"), Human.size(size), cachedText, num(m, "hits"), Human.ago(num(m, "lastAccess"), now),
          m.getBoolean("pinned", false) ? "yes" : "no", check, Human.shortDigest(m.getString("digest")));
    }
    return t.isEmpty() ? "no models in the cache\n" : t.render();
  }

  static String blobs(JsonArray blobs, long now) {
    Table t = new Table("DIGEST", ">SIZE", ">HITS", "LAST ACCESS", "PINNED", "IN USE", "MODELS");
    for (JsonObject b : objects(blobs)) {
      JsonArray models = b.getJsonArray("models", new JsonArray());
      List<String> names = new ArrayList<>();
      models.forEach(n -> names.add(String.valueOf(n)));
      t.row(Human.shortDigest(b.getString("digest")), Human.size(num(b, "sizeBytes")), num(b, "hits"),
          Human.ago(num(b, "lastAccess"), now), b.getBoolean("pinned", false) ? "yes" : "no", b.getBoolean("inUse", false) ? "yes" : "no",
          names.isEmpty() ? "-" : String.join(", ", names));
    }
    return t.isEmpty() ? "no blobs in the cache\n" : t.render();
  }

  static String downloads(JsonArray downloads, long now) {
    Table t = new Table("DIGEST", "REPOSITORY", "STATE", ">PROGRESS", ">RATE", "SOURCE", ">CONNS", ">READERS", "STARTED");
    for (JsonObject d : objects(downloads)) {
      long size = num(d, "sizeBytes");
      long done = num(d, "doneBytes");
      String progress = size > 0 ? done * 100 / size + "%  " + Human.size(done) + " / " + Human.size(size) : Human.size(done) + " / ?";
      t.row(Human.shortDigest(d.getString("digest")), d.getString("repository"), d.getString("state"), progress,
          Human.rate(num(d, "rateBytesPerSecond")), d.getString("source"), num(d, "connections"), num(d, "readers"),
          Human.ago(num(d, "startedAt"), now));
    }
    return t.isEmpty() ? "no downloads in progress\n" : t.render();
  }

  static String pins(JsonArray pins, long now) {
    Table t = new Table("NAME", "PINNED");
    for (JsonObject p : objects(pins)) {
      t.row(p.getString("name"), Human.ago(num(p, "pinnedAt"), now));
    }
    return t.isEmpty() ? "no pinned models\n" : t.render();
  }

  static String aliases(JsonArray aliases, long now) {
    Table t = new Table("NAME", "TARGET", "UPDATED");
    for (JsonObject a : objects(aliases)) {
      t.row(a.getString("name"), a.getString("target"), Human.ago(num(a, "updatedAt"), now));
    }
    return t.isEmpty() ? "no aliases\n" : t.render();
  }
}
