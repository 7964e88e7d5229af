package io.pullmesh.seeder;

import io.pullmesh.core.Digest;
import io.pullmesh.proxy.cli.ProgressDisplay;
import io.pullmesh.store.BlobRecord;
import io.pullmesh.store.BlobStore;
import io.pullmesh.store.Catalog;
import io.pullmesh.store.ManifestRecord;
import io.pullmesh.store.TagRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Writes models from a pullmesh cache as an Ollama models directory that {@code ollama serve} loads offline
 * ({@code OLLAMA_MODELS=DIR}). Every file is written under a temporary name, flushed and renamed into place; blobs
 * are written before the manifests that name them, so Ollama never sees a manifest without its blobs. Each blob is
 * re-hashed on the way out: a cached blob that no longer matches its digest is not written.
 */
final class Exporter {
  private final BlobStore store;
  private final ProgressDisplay display;

  Exporter(BlobStore store, ProgressDisplay display) {
    this.store = store;
    this.display = display;
  }

  /** A model the cache holds completely: its manifest and blobs. */
  record Resolved(ModelName name, ManifestRecord manifest, List<ManifestJson.Descriptor> blobs) {}

  /** Names the cache cannot export, each with why; empty when all can be. */
  record Resolution(List<Resolved> models, List<String> problems) {}

  /** What an export did. */
  record Report(List<String> models, int blobsWritten, long bytesWritten, int blobsPresent, List<String> failures) {}

  /** Finds every name's manifest and blobs in the cache, writing nothing. */
  Resolution resolve(List<ModelName> names) {
    Catalog catalog = store.catalog();
    List<Resolved> out = new ArrayList<>();
    List<String> problems = new ArrayList<>();
    for (ModelName n : names) {
      Optional<TagRecord> tag = catalog.tag(n.repository(), n.tag());
      Optional<ManifestRecord> m = tag.flatMap(t -> catalog.manifest(t.digest()));
      if (m.isEmpty()) {
        problems.add(n + " is not in the cache" + (tag.isPresent() ? " (its tag is known, its manifest is not)" : ""));
        continue;
      }
      ManifestJson.Parsed parsed;
      try {
        parsed = ManifestJson.parse(m.get().bytes());
      } catch (IllegalArgumentException e) {
        problems.add(n + ": its cached manifest is not a model manifest (" + e.getMessage() + ")");
        continue;
      }
      List<String> missing = new ArrayList<>();
      for (ManifestJson.Descriptor d : parsed.blobs()) {
        Optional<BlobRecord> b = store.lookup(d.digest());
        if (b.isEmpty() || b.get().size() != d.size()) {
          missing.add(d.digest().toString());
        }
      }
      if (!missing.isEmpty()) {
        problems.add(n + " is only partly in the cache: " + missing.size() + " of its blobs are not (" + String.join(", ", missing)
            + "); prefetch it first");
        continue;
      }
      out.add(new Resolved(n, m.get(), parsed.blobs()));
    }
    return new Resolution(out, problems);
  }

  /** Writes the resolved models into {@code dir}, manifests under {@code manifests/<host>/}. */
  Report write(List<Resolved> models, Path dir, String host) throws IOException {
    Path blobs = dir.resolve("blobs");
    Files.createDirectories(blobs);
    Map<Digest, ManifestJson.Descriptor> unique = new LinkedHashMap<>();
    for (Resolved r : models) {
      for (ManifestJson.Descriptor d : r.blobs()) {
        unique.putIfAbsent(d.digest(), d);
      }
    }
    List<ManifestJson.Descriptor> toWrite = new ArrayList<>();
    long total = 0;
    int present = 0;
    for (ManifestJson.Descriptor d : unique.values()) {
      Path target = OllamaDir.blob(dir, d.digest());
      if (Files.isRegularFile(target) && Files.size(target) == d.size()) {
        present++;
      } else {
        toWrite.add(d);
        total += d.size();
      }
    }
    long free = Files.getFileStore(blobs).getUsableSpace();
    if (total > free) {
      throw new IOException("the blobs to export need " + io.pullmesh.core.Bytes.human(total) + " but the disk of " + dir + " has only "
          + io.pullmesh.core.Bytes.human(free) + " free");
    }
    Map<Digest, String> failed = new LinkedHashMap<>();
    long done = 0;
    int written = 0;
    long writtenBytes = 0;
    long started = System.nanoTime();
    for (int i = 0; i < toWrite.size(); i++) {
      ManifestJson.Descriptor d = toWrite.get(i);
      String label = "export " + (i + 1) + "/" + toWrite.size() + " blobs";
      long base = done;
      long t = total;
      String problem = writeBlob(d, OllamaDir.blob(dir, d.digest()), n -> display.update(label, base + n, t, 0));
      if (problem != null) {
        failed.put(d.digest(), problem);
      } else {
        written++;
        writtenBytes += d.size();
      }
      done += d.size();
    }
    if (!toWrite.isEmpty()) {
      display.done("export " + toWrite.size() + "/" + toWrite.size() + " blobs", total, total, Importer.rate(total, started));
    }
    List<String> exported = new ArrayList<>();
    List<String> failures = new ArrayList<>();
    for (Resolved r : models) {
      List<String> bad = new ArrayList<>();
      for (ManifestJson.Descriptor d : r.blobs()) {
        if (failed.containsKey(d.digest())) {
          bad.add(d.digest() + " (" + failed.get(d.digest()) + ")");
        }
      }
      if (!bad.isEmpty()) {
        failures.add(r.name() + " not exported: " + String.join("; ", bad));
        continue;
      }
      Path target = OllamaDir.manifest(dir, host, r.name());
      Files.createDirectories(target.getParent());
      writeAtomically(target, r.manifest().bytes());
      exported.add(r.name().toString());
    }
    return new Report(exported, written, writtenBytes, present, failures);
  }

  /** Copies one cached blob to {@code target} through a temporary file; null when done, else why not. */
  private String writeBlob(ManifestJson.Descriptor d, Path target, java.util.function.LongConsumer progress) throws IOException {
    Path tmp = temp(target);
    boolean moved = false;
    try {
      BlobCopy.Copied c;
      try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        c = BlobCopy.copy(store.blobPath(d.digest()), out, progress);
        if (!c.digest().equals(d.digest()) || c.bytes() != d.size()) {
          return "the cached copy no longer matches its digest (it hashes to " + c.digest() + ", " + c.bytes()
              + " bytes); run `java -jar pullmesh-proxy.jar verify` on the cache";
        }
        out.force(true);
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      moved = true;
      fsyncDirectory(target.getParent());
      return null;
    } finally {
      if (!moved) {
        Files.deleteIfExists(tmp);
      }
    }
  }

  static void writeAtomically(Path target, byte[] bytes) throws IOException {
    Path tmp = temp(target);
    boolean moved = false;
    try {
      try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
          out.write(b);
        }
        out.force(true);
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      moved = true;
      fsyncDirectory(target.getParent());
    } finally {
      if (!moved) {
        Files.deleteIfExists(tmp);
      }
    }
  }

  /** A name beside {@code target} that Ollama takes for neither a blob nor a manifest it wrote. */
  private static Path temp(Path target) {
    return target.resolveSibling("." + target.getFileName() + ".pullmesh-" + Long.toHexString(System.nanoTime()) + ".tmp");
  }

  private static void fsyncDirectory(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      // some platforms cannot open a directory for fsync; the rename itself is still atomic
    }
  }
}
