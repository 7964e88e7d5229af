package io.pullmesh.seeder;

import io.pullmesh.core.Digest;
import io.pullmesh.proxy.cli.ProgressDisplay;
import io.pullmesh.store.BlobRecord;
import io.pullmesh.store.BlobStore;
import io.pullmesh.store.Catalog;
import io.pullmesh.store.ManifestRecord;
import io.pullmesh.store.TagRecord;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Imports an Ollama models directory into a pullmesh cache (the {@link BlobStore} opened by the caller). Each blob a
 * manifest names is copied into a partial file while its SHA-256 is computed, and committed only when the digest
 * and the size the manifest gives both match; anything else is refused and never committed. A manifest is stored
 * (bytes unchanged, with its digest, size hints and tag, as the proxy stores a manifest it pulled) only when every
 * blob it names is in the cache. Blobs already in the cache are not copied again.
 */
final class Importer {
  /** Pieces of the partial file's piece map; the map is dropped at commit, the value only sizes it. */
  private static final int PIECE_SIZE = 16 << 20;

  private final BlobStore store;
  private final Clock clock;
  private final ProgressDisplay display;

  Importer(BlobStore store, Clock clock, ProgressDisplay display) {
    this.store = store;
    this.clock = clock;
    this.display = display;
  }

  /** A blob that was not imported, and why. */
  record Refused(Digest digest, Path file, String reason) {}

  /** A manifest that was not imported, and why. */
  record NotImported(String name, Path file, String reason) {}

  /**
   * What an import did.
   *
   * @param models the names imported, as {@code name:tag}
   * @param otherHosts manifests found under other registry hosts (not imported), by host
   * @param unrecognised files under manifests/ that are not at {@code <host>/<namespace>/<model>/<tag>}
   */
  record Report(List<String> models, int blobsImported, long bytesImported, int blobsSkipped, long bytesSkipped,
      List<Refused> refused, List<NotImported> notImported, Map<String, Integer> otherHosts, List<Path> unrecognised) {
    boolean ok() {
      return refused.isEmpty() && notImported.isEmpty();
    }
  }

  private record Plan(OllamaDir.ManifestFile file, byte[] bytes, Digest digest, ManifestJson.Parsed parsed) {}

  /** Whether a host directory is one of the registries a node routes by host name (hf.co, huggingface.co, modelscope.cn). */
  static boolean isRegistryHost(String host) {
    return io.pullmesh.proxy.ProxyConfig.BUILT_IN_HOSTS.stream().anyMatch(u -> u.namespace().equalsIgnoreCase(host));
  }

  /** @param root the models directory ({@link OllamaDir#resolve}d) */
  Report run(Path root, String host) throws IOException {
    OllamaDir.Listing listing = OllamaDir.manifests(root);
    Map<String, Integer> otherHosts = new TreeMap<>();
    List<NotImported> notImported = new ArrayList<>();
    List<Plan> plans = new ArrayList<>();
    for (OllamaDir.ManifestFile found : listing.manifests()) {
      OllamaDir.ManifestFile m = found;
      if (!m.host().equalsIgnoreCase(host)) {
        if (!isRegistryHost(m.host())) {
          otherHosts.merge(m.host(), 1, Integer::sum);
          continue;
        }
        // ollama pull hf.co/<user>/<repo>: kept under its host's name, as a node serves it (by name and through HTTPS_PROXY)
        m = new OllamaDir.ManifestFile(m.file(), m.host(), ModelName.qualified(m.host().toLowerCase(java.util.Locale.ROOT), m.name()));
      }
      try {
        long size = Files.size(m.file());
        if (size > ManifestJson.MAX_BYTES) {
          throw new IllegalArgumentException("it is " + size + " bytes, too big for a manifest");
        }
        byte[] bytes = Files.readAllBytes(m.file());
        plans.add(new Plan(m, bytes, Digest.of(bytes), ManifestJson.parse(bytes)));
      } catch (IllegalArgumentException e) {
        notImported.add(new NotImported(m.name().toString(), m.file(), "the manifest is unreadable: " + e.getMessage()));
      }
    }

    // each blob once, whichever manifests name it; the size expected is the first manifest's
    Map<Digest, ManifestJson.Descriptor> needed = new LinkedHashMap<>();
    Map<Digest, io.pullmesh.core.RepositoryName> repoOf = new LinkedHashMap<>();
    for (Plan p : plans) {
      for (ManifestJson.Descriptor d : p.parsed().blobs()) {
        needed.putIfAbsent(d.digest(), d);
        repoOf.putIfAbsent(d.digest(), p.file().name().repository());
      }
    }

    Map<Digest, Refused> refused = new LinkedHashMap<>();
    List<ManifestJson.Descriptor> toCopy = new ArrayList<>();
    int skipped = 0;
    long skippedBytes = 0;
    long totalBytes = 0;
    for (ManifestJson.Descriptor d : needed.values()) {
      Optional<BlobRecord> cached = store.lookup(d.digest());
      if (cached.isPresent()) {
        skipped++;
        skippedBytes += cached.get().size();
        continue;
      }
      Path file = OllamaDir.blob(root, d.digest());
      long size;
      try {
        size = Files.size(file);
      } catch (NoSuchFileException e) {
        refused.put(d.digest(), new Refused(d.digest(), file, "the file is missing"));
        continue;
      }
      if (size != d.size()) {
        refused.put(d.digest(), new Refused(d.digest(), file, "it is " + size + " bytes but the manifest says " + d.size()
            + (size < d.size() ? " (truncated)" : "")));
        continue;
      }
      toCopy.add(d);
      totalBytes += d.size();
    }
    checkFreeSpace(totalBytes);

    int imported = 0;
    long importedBytes = 0;
    long started = System.nanoTime();
    long doneBefore = 0;
    for (int i = 0; i < toCopy.size(); i++) {
      ManifestJson.Descriptor d = toCopy.get(i);
      String label = "import " + (i + 1) + "/" + toCopy.size() + " blobs";
      long base = doneBefore;
      long total = totalBytes;
      Path file = OllamaDir.blob(root, d.digest());
      Refused r = importBlob(d, file, repoOf.get(d.digest()), done -> display.update(label, base + done, total, 0));
      if (r != null) {
        refused.put(d.digest(), r);
      } else {
        imported++;
        importedBytes += d.size();
      }
      doneBefore += d.size();
    }
    if (!toCopy.isEmpty()) {
      display.done("import " + toCopy.size() + "/" + toCopy.size() + " blobs", totalBytes, totalBytes, rate(totalBytes, started));
    }

    List<String> models = new ArrayList<>();
    Catalog catalog = store.catalog();
    for (Plan p : plans) {
      List<String> problems = new ArrayList<>();
      for (ManifestJson.Descriptor d : p.parsed().blobs()) {
        Refused r = refused.get(d.digest());
        Optional<BlobRecord> rec = r == null ? store.lookup(d.digest()) : Optional.empty();
        if (r != null) {
          problems.add("it needs " + d.digest() + ", refused: " + r.reason());
        } else if (rec.isEmpty()) {
          problems.add("it needs " + d.digest() + ", which is not in the cache");
        } else if (rec.get().size() != d.size()) {
          problems.add("it says " + d.digest() + " is " + d.size() + " bytes, but that blob is " + rec.get().size());
        }
      }
      if (!problems.isEmpty()) {
        notImported.add(new NotImported(p.file().name().toString(), p.file().file(), String.join("; ", problems)));
        continue;
      }
      store(p);
      models.add(p.file().name().toString());
    }
    return new Report(models, imported, importedBytes, skipped, skippedBytes, List.copyOf(refused.values()), notImported, otherHosts,
        listing.unrecognised());
  }

  /** Copies and verifies one blob; null when it was committed, else why not (nothing of it is left behind). */
  private Refused importBlob(ManifestJson.Descriptor d, Path file, io.pullmesh.core.RepositoryName repo, java.util.function.LongConsumer progress) {
    boolean committed = false;
    try (FileChannel ch = store.openPartial(d.digest(), d.size(), repo, PIECE_SIZE)) {
      BlobCopy.Copied c = BlobCopy.copy(file, ch, progress);
      if (c.bytes() != d.size()) {
        return new Refused(d.digest(), file, "it changed while being read: " + c.bytes() + " bytes, the manifest says " + d.size());
      }
      if (!c.digest().equals(d.digest())) {
        return new Refused(d.digest(), file, "its content hashes to " + c.digest() + ", not the digest it is named by");
      }
      store.commit(d.digest(), d.size(), ch);
      committed = true;
      return null;
    } catch (IOException e) {
      return new Refused(d.digest(), file, "cannot copy it: " + e.getMessage());
    } finally {
      if (!committed) {
        store.discardPartial(d.digest());
      }
    }
  }

  /** Stores a manifest as {@code ManifestService} stores one it fetched: bytes, digest, blob list, size hints, tag. */
  private void store(Plan p) {
    long now = clock.millis();
    Catalog catalog = store.catalog();
    List<Digest> refs = new ArrayList<>();
    ManifestJson.Parsed parsed = p.parsed();
    List<ManifestJson.Descriptor> all = new ArrayList<>();
    all.add(parsed.config());
    all.addAll(parsed.layers());
    for (ManifestJson.Descriptor d : all) {
      refs.add(d.digest());
      catalog.putSizeHint(d.digest(), d.size());
    }
    catalog.putManifest(new ManifestRecord(p.digest(), ManifestJson.contentType(p.bytes()), p.bytes(), now, refs));
    catalog.putTag(new TagRecord(p.file().name().repository(), p.file().name().tag(), p.digest(), now));
  }

  /** Bytes per second since {@code startedNanos}; 0 when too short to tell. */
  static long rate(long bytes, long startedNanos) {
    long nanos = System.nanoTime() - startedNanos;
    return nanos < 1_000_000 ? 0 : (long) (bytes * 1e9 / nanos);
  }

  private void checkFreeSpace(long bytes) throws IOException {
    long free = Files.getFileStore(store.root()).getUsableSpace();
    if (bytes > free) {
      throw new IOException("the blobs to import need " + io.pullmesh.core.Bytes.human(bytes) + " but the disk of " + store.root()
          + " has only " + io.pullmesh.core.Bytes.human(free) + " free: free some space or import into a --cache-dir on a larger disk");
    }
  }
}
