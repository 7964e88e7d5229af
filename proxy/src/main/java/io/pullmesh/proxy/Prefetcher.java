package io.pullmesh.proxy;

import io.pullmesh.core.Digest;
import io.pullmesh.core.Reference;
import io.pullmesh.core.RegistryException;
import io.pullmesh.fetch.BlobDownload;
import io.pullmesh.fetch.DownloadManager;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Warms the cache: fetches a model's manifest and every blob it names, one blob at a time (each over the usual
 * parallel connections), as a job whose progress can be polled. The blobs land in the cache exactly as if a client
 * had pulled them; clients pulling meanwhile share the same downloads.
 */
final class Prefetcher {
  private static final int MAX_JOBS = 100;

  /** A prefetch and how far it got. Fields are read from other threads, so they are volatile. */
  static final class Job {
    final String id;
    final String name;
    final long startedAt;
    volatile String state = "running";
    volatile String error;
    volatile long totalBytes;
    volatile long doneBytes;
    volatile int blobs;
    volatile int blobsDone;
    volatile BlobDownload current;
    volatile long finishedAt;

    Job(String id, String name, long startedAt) {
      this.id = id;
      this.name = name;
      this.startedAt = startedAt;
    }

    JsonObject toJson() {
      BlobDownload d = current;
      long progress = doneBytes + (d == null ? 0 : d.bytesDone());
      return new JsonObject().put("id", id).put("name", name).put("state", state).put("error", error)
          .put("totalBytes", totalBytes).put("doneBytes", Math.min(progress, totalBytes)).put("blobs", blobs)
          .put("blobsDone", blobsDone).put("rateBytesPerSecond", d == null ? 0 : d.rateBytesPerSecond())
          .put("startedAt", startedAt).put("finishedAt", finishedAt == 0 ? null : finishedAt);
    }
  }

  private final ManifestService manifests;
  private final DownloadManager downloads;
  private final Aliases aliases;
  private final Clock clock;
  private final AtomicInteger ids = new AtomicInteger();
  private final Map<String, Job> jobs = new LinkedHashMap<>();

  Prefetcher(ManifestService manifests, DownloadManager downloads, Aliases aliases, Clock clock) {
    this.manifests = manifests;
    this.downloads = downloads;
    this.aliases = aliases;
    this.clock = clock;
  }

  /** Starts fetching {@code name} in the background. */
  synchronized Job start(Aliases.NameTag name) {
    Job job = new Job(Integer.toString(ids.incrementAndGet()), name.toString(), clock.millis());
    jobs.put(job.id, job);
    while (jobs.size() > MAX_JOBS) {
      jobs.remove(jobs.keySet().iterator().next());
    }
    manifests.get(name.repository(), Reference.parse(name.tag())).compose(m -> {
      List<ManifestService.Descriptor> blobs = ManifestService.descriptors(m.manifest().bytes());
      long total = 0;
      for (ManifestService.Descriptor d : blobs) {
        total += d.size();
      }
      job.totalBytes = total;
      job.blobs = blobs.size();
      // blobs of an alias are fetched under its target's name
      var repo = aliases.get(name.repository(), name.tag()).map(a -> a.targetRepository()).orElse(name.repository());
      return fetchAll(job, repo, new ArrayList<>(blobs), 0);
    }).onComplete(ar -> {
      job.current = null;
      job.finishedAt = clock.millis();
      if (ar.succeeded()) {
        job.state = "done";
        job.doneBytes = job.totalBytes;
      } else {
        job.state = "failed";
        job.error = RegistryException.of(ar.cause()).getMessage();
      }
    });
    return job;
  }

  private Future<Void> fetchAll(Job job, io.pullmesh.core.RepositoryName repo, List<ManifestService.Descriptor> blobs, int i) {
    if (i >= blobs.size()) {
      return Future.succeededFuture();
    }
    ManifestService.Descriptor b = blobs.get(i);
    return fetch(job, repo, b.digest()).compose(v -> {
      job.doneBytes += b.size();
      job.blobsDone++;
      return fetchAll(job, repo, blobs, i + 1);
    });
  }

  private Future<Void> fetch(Job job, io.pullmesh.core.RepositoryName repo, Digest digest) {
    return downloads.open(repo, digest).compose(found -> {
      if (found instanceof DownloadManager.Lookup.InFlight f) {
        // nobody reads through this reader: the download goes on by itself
        f.reader().close();
        job.current = f.download();
        Promise<Void> p = Promise.promise();
        f.download().completion().onComplete(ar -> {
          job.current = null;
          if (ar.succeeded()) {
            p.complete();
          } else {
            p.fail(ar.cause());
          }
        });
        return p.future();
      }
      return Future.succeededFuture();
    });
  }

  synchronized Job job(String id) {
    return jobs.get(id);
  }

  synchronized List<Job> jobs() {
    return new ArrayList<>(jobs.values());
  }
}
