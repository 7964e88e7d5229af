package io.pullmesh.proxy;

import io.pullmesh.core.Digest;
import io.pullmesh.fetch.BlobDownload;
import io.pullmesh.fetch.DownloadManager;
import io.pullmesh.store.Alias;
import io.pullmesh.store.BlobRecord;
import io.pullmesh.store.BlobStore;
import io.pullmesh.store.Catalog;
import io.pullmesh.store.ManifestRecord;
import io.pullmesh.store.Pin;
import io.pullmesh.store.SpaceManager;
import io.pullmesh.store.TagEvent;
import io.pullmesh.store.TagRecord;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * What the admin API's reads answer, as JSON: {@code stats}, {@code models}, {@code blobs}, {@code downloads},
 * {@code pins} and {@code aliases}. Only reads; the index reads block, so call those from a worker. Not for HTTP
 * (requests, methods, errors are {@link AdminApi}'s), nor for changing anything.
 */
final class AdminViews {
  private final BlobStore store;
  private final Catalog catalog;
  private final SpaceManager space;
  private final DownloadManager downloads;
  private final ManifestService manifests;
  private final Aliases aliases;
  private final Clock clock;
  private final TrafficStats traffic;
  /** The default upstream's URL, for stats. */
  private final String upstream;

  AdminViews(BlobStore store, SpaceManager space, DownloadManager downloads, ManifestService manifests, Aliases aliases,
      Clock clock, TrafficStats traffic, String upstream) {
    this.store = store;
    this.catalog = store.catalog();
    this.space = space;
    this.downloads = downloads;
    this.manifests = manifests;
    this.aliases = aliases;
    this.clock = clock;
    this.traffic = traffic;
    this.upstream = upstream;
  }

  /** Blocking. */
  JsonObject stats() throws IOException {
    FileStore fs = Files.getFileStore(store.root());
    return new JsonObject()
        .put("cache", new JsonObject().put("path", store.root().toString()).put("bytes", store.committedBytes())
            .put("blobs", store.committedBlobs()).put("limitBytes", space.limit()).put("reservedBytes", space.reserved())
            .put("partialBytes", store.partialBytes()).put("evictions", space.evictions()))
        .put("disk", new JsonObject().put("totalBytes", fs.getTotalSpace()).put("freeBytes", fs.getUsableSpace()))
        .put("downloads", new JsonObject().put("active", downloads.activeCount()))
        .put("catalog", new JsonObject().put("manifests", catalog.manifests().size()).put("tags", catalog.tags().size())
            .put("pins", catalog.pins().size()).put("aliases", aliases.all().size()))
        .put("traffic", traffic.traffic())
        .put("peers", traffic.peers())
        .put("node", new JsonObject().put("version", ProxyConfig.VERSION).put("upstream", upstream));
  }

  /** Blocking. */
  JsonArray models() {
    Map<Digest, BlobRecord> blobs = new HashMap<>();
    for (BlobRecord r : store.blobs()) {
      blobs.put(r.digest(), r);
    }
    Set<String> pinned = new HashSet<>();
    for (Pin p : catalog.pins()) {
      pinned.add(p.name());
    }
    long now = clock.millis();
    JsonArray out = new JsonArray();
    for (TagRecord t : catalog.tags()) {
      String name = t.repository() + ":" + t.tag();
      JsonObject o = new JsonObject().put("name", name).put("digest", t.digest().toString()).put("pinned", pinned.contains(name))
          .put("checkedAt", t.checkedAt()).put("revalidationDue", now - t.checkedAt() >= manifests.ttl().toMillis());
      ManifestRecord m = catalog.manifest(t.digest()).orElse(null);
      long size = 0;
      long cached = 0;
      long hits = 0;
      long lastAccess = 0;
      if (m != null) {
        for (ManifestService.Descriptor d : ManifestService.descriptors(m.bytes())) {
          size += d.size();
          BlobRecord r = blobs.get(d.digest());
          if (r != null) {
            cached += r.size();
            hits = Math.max(hits, r.hits());
            lastAccess = Math.max(lastAccess, r.lastAccess());
          }
        }
      }
      o.put("sizeBytes", size).put("cachedBytes", cached).put("complete", m != null && cached == size)
          .put("hits", hits).put("lastAccess", lastAccess == 0 ? null : lastAccess);
      JsonArray history = new JsonArray();
      for (TagEvent e : catalog.tagHistory(t.repository(), t.tag())) {
        history.add(new JsonObject().put("digest", e.digest().toString()).put("seenAt", e.seenAt()));
      }
      o.put("history", history);
      out.add(o);
    }
    return out;
  }

  /** Blocking. */
  JsonArray blobs() {
    Map<Digest, List<String>> usedBy = new HashMap<>();
    for (TagRecord t : catalog.tags()) {
      catalog.manifest(t.digest()).ifPresent(m -> {
        for (Digest d : m.references()) {
          usedBy.computeIfAbsent(d, k -> new ArrayList<>()).add(t.repository() + ":" + t.tag());
        }
      });
    }
    Set<Digest> pinned = catalog.pinnedDigests();
    JsonArray out = new JsonArray();
    for (BlobRecord r : store.blobs()) {
      out.add(new JsonObject().put("digest", r.digest().toString()).put("sizeBytes", r.size()).put("hits", r.hits())
          .put("lastAccess", r.lastAccess()).put("createdAt", r.createdAt()).put("pinned", pinned.contains(r.digest()))
          .put("inUse", space.inUse(r.digest())).put("models", new JsonArray(usedBy.getOrDefault(r.digest(), List.of()))));
    }
    return out;
  }

  /** Blocking. */
  JsonArray pins() {
    JsonArray a = new JsonArray();
    for (Pin p : catalog.pins()) {
      a.add(new JsonObject().put("name", p.name()).put("pinnedAt", p.pinnedAt()));
    }
    return a;
  }

  /** From memory: safe on the event loop. */
  JsonArray downloads() {
    JsonArray out = new JsonArray();
    for (BlobDownload d : downloads.downloads()) {
      long size = d.size();
      long done = d.bytesDone();
      out.add(new JsonObject().put("digest", d.digest().toString()).put("repository", d.repository().value())
          .put("state", d.state().name().toLowerCase(Locale.ROOT)).put("sizeBytes", size < 0 ? null : size)
          .put("doneBytes", done).put("progress", size > 0 ? (double) done / size : null)
          .put("rateBytesPerSecond", d.rateBytesPerSecond()).put("source", d.source()).put("connections", d.connections())
          .put("readers", d.readerCount()).put("startedAt", d.startedAt()));
    }
    return out;
  }

  /** From memory: safe on the event loop. */
  JsonArray aliases() {
    JsonArray a = new JsonArray();
    for (Alias x : aliases.all()) {
      a.add(new JsonObject().put("name", x.name()).put("target", x.target()).put("updatedAt", x.updatedAt()));
    }
    return a;
  }
}
