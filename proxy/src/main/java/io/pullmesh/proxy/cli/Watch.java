package io.pullmesh.proxy.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Long work on the server (prefetch, verify): started, then polled with a progress bar until it ends. */
final class Watch {
  private final AdminClient client;
  private final ProgressDisplay display;
  private final PrintStream out;
  private final PrintStream err;
  private final boolean json;
  private final Duration poll;

  Watch(AdminClient client, ProgressDisplay display, PrintStream out, PrintStream err, boolean json, Duration poll) {
    this.client = client;
    this.display = display;
    this.out = out;
    this.err = err;
    this.json = json;
    this.poll = poll;
  }

  /** Starts a prefetch of each name, then follows them all until each is done or failed. */
  int prefetch(List<String> names) {
    int exit = 0;
    Map<String, JsonObject> jobs = new LinkedHashMap<>();
    for (String name : names) {
      try {
        JsonObject job = client.post("prefetch", new JsonObject().put("name", name)).object();
        jobs.put(job.getString("id"), job);
      } catch (CliException e) {
        err.println("pullmesh admin: prefetch " + name + ": " + e.getMessage());
        exit = Math.max(exit, e.exitCode());
      }
    }
    if (jobs.isEmpty()) {
      return exit;
    }
    while (true) {
      int finished = 0;
      long done = 0;
      long total = 0;
      long rate = 0;
      for (Map.Entry<String, JsonObject> e : jobs.entrySet()) {
        JsonObject j = e.getValue();
        if ("running".equals(j.getString("state"))) {
          j = client.get("prefetch/" + e.getKey()).object();
          e.setValue(j);
        }
        if (!"running".equals(j.getString("state"))) {
          finished++;
        } else {
          rate += Listings.num(j, "rateBytesPerSecond");
        }
        done += Listings.num(j, "doneBytes");
        total += Listings.num(j, "totalBytes");
      }
      String label = jobs.size() == 1 ? jobs.values().iterator().next().getString("name") : finished + "/" + jobs.size() + " models";
      if (finished == jobs.size()) {
        display.done(label, done, total, rate);
        break;
      }
      display.update(label, done, total, rate);
      pause();
    }
    if (json) {
      out.println(new JsonArray(new ArrayList<>(jobs.values())).encodePrettily());
    }
    for (JsonObject j : jobs.values()) {
      boolean ok = "done".equals(j.getString("state"));
      if (!json) {
        long secs = (Listings.num(j, "finishedAt") - Listings.num(j, "startedAt")) / 1000;
        out.println(ok ? "done    " + j.getString("name") + "  " + Human.size(Listings.num(j, "totalBytes")) + " in "
            + Human.count(Listings.num(j, "blobs"), "blob") + ", " + Human.duration(secs)
            : "failed  " + j.getString("name") + ": " + j.getString("error"));
      }
      if (!ok) {
        exit = Math.max(exit, CliException.FAILED);
      }
    }
    return exit;
  }

  /** Starts a verification on the server, follows it, and reports what it found. */
  int verify() {
    JsonObject status = client.post("verify", new JsonObject()).object();
    while (true) {
      if (!"running".equals(status.getString("state"))) {
        display.done(verifyLabel(status), Listings.num(status, "bytesDone"), Listings.num(status, "bytesTotal"), 0);
        break;
      }
      display.update(verifyLabel(status), Listings.num(status, "bytesDone"), Listings.num(status, "bytesTotal"), 0);
      pause();
      status = client.get("verify").object();
    }
    if (json) {
      out.println(status.encodePrettily());
    }
    if ("failed".equals(status.getString("state"))) {
      throw new CliException(CliException.FAILED, "verification failed: " + status.getString("error"));
    }
    List<String> corrupt = strings(status.getJsonArray("corrupt"));
    List<String> unreadable = strings(status.getJsonArray("unreadable"));
    if (json) {
      return corrupt.isEmpty() && unreadable.isEmpty() ? 0 : CliException.FAILED;
    }
    return VerifyReport.print(out, Listings.num(status, "checked"), Listings.num(status, "bytesTotal"), corrupt,
        strings(status.getJsonArray("skipped")), unreadable, "quarantine/ in the cache directory");
  }

  private static String verifyLabel(JsonObject s) {
    return "verify " + Listings.num(s, "blobsDone") + "/" + Listings.num(s, "blobsTotal") + " blobs";
  }

  private static List<String> strings(JsonArray a) {
    List<String> out = new ArrayList<>();
    if (a != null) {
      a.forEach(x -> out.add(String.valueOf(x)));
    }
    return out;
  }

  private void pause() {
    try {
      Thread.sleep(poll.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CliException(CliException.FAILED, "interrupted");
    }
  }
}
