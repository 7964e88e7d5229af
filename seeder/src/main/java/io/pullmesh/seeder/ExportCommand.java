package io.pullmesh.seeder;

import io.pullmesh.core.Bytes;
import io.pullmesh.proxy.LogSetup;
import io.pullmesh.proxy.cli.CliSpec;
import io.pullmesh.proxy.cli.ProgressDisplay;
import io.pullmesh.store.BlobStore;
import io.pullmesh.store.CacheInUseException;
import io.pullmesh.store.CacheUnusableException;
import io.pullmesh.store.TagRecord;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.logging.Level;
import picocli.CommandLine.Model.CommandSpec;

/** {@code export NAME... DIR [--cache-dir DIR]}: models of a stopped node's cache as an Ollama models directory. */
final class ExportCommand {
  private ExportCommand() {}

  static CommandSpec spec() {
    CommandSpec spec = OfflineArgs.spec("export", "java -jar pullmesh-seeder.jar export NAME... DIR [--cache-dir DIR] [--registry-host HOST]",
        new String[] {"", "Writes the named models from a pullmesh cache as an Ollama models directory that `ollama serve` loads offline: "
            + "OLLAMA_MODELS=DIR ollama serve. NAME is as for ollama pull (qwen2.5:7b is library/qwen2.5:7b). DIR may be new or an existing "
            + "models directory (blobs already there are kept). Every file is written under a temporary name and renamed into place; each "
            + "blob is re-hashed on the way out. Names the cache does not hold completely are refused, and then nothing is written.",
            "No node may be running on the cache (stop it first)."},
        new String[] {"", "Exit codes: 0 every model exported, 1 a name is not in the cache or a blob could not be written (each is named), "
            + "2 bad usage, no cache there, or the cache is in use."});
    CliSpec.summary(spec, "write models from a cache as an Ollama models directory (OLLAMA_MODELS=DIR ollama serve)");
    return spec;
  }

  static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err, boolean terminal, Clock clock) throws UsageException {
    CommandSpec spec = spec();
    OfflineArgs a = OfflineArgs.parse(spec, args, env);
    if (a.help) {
      out.print(CliSpec.usage(spec));
      return 0;
    }
    if (a.operands.size() < 2) {
      throw new UsageException("name the models and then the directory to write, e.g. export qwen2.5:7b llama3.2 /media/usb/ollama-models");
    }
    Path dir = Path.of(a.operands.get(a.operands.size() - 1));
    if (Files.exists(dir) && !Files.isDirectory(dir)) {
      throw new UsageException(dir + " exists and is not a directory (the last argument is the directory to write)");
    }
    List<ModelName> names = new ArrayList<>();
    for (String n : a.operands.subList(0, a.operands.size() - 1)) {
      try {
        names.add(ModelName.parse(n, a.registryHost));
      } catch (IllegalArgumentException e) {
        throw new UsageException(e.getMessage());
      }
    }
    Path cache = a.cache(env);
    if (!Files.isDirectory(cache.resolve("index"))) {
      throw new UsageException("no pullmesh cache at " + cache.toAbsolutePath() + " (choose one with --cache-dir)");
    }
    LogSetup.configure(Level.WARNING);
    BlobStore store;
    try {
      store = BlobStore.open(cache, clock);
    } catch (CacheInUseException e) {
      throw new UsageException("the cache " + cache.toAbsolutePath() + " is in use by a running pullmesh node: stop it first "
          + "(export reads the cache directly)");
    } catch (CacheUnusableException e) {
      throw new UsageException(e.getMessage());
    }
    try (store) {
      ProgressDisplay display = new ProgressDisplay(err, terminal, System::nanoTime, 5_000_000_000L);
      Exporter exporter = new Exporter(store, display);
      Exporter.Resolution res = exporter.resolve(names);
      if (!res.problems().isEmpty()) {
        for (String p : res.problems()) {
          err.println("pullmesh-seeder export: " + p);
        }
        err.println("pullmesh-seeder export: nothing written. The cache " + store.root() + " holds: " + held(store));
        return 1;
      }
      Exporter.Report r = exporter.write(res.models(), dir, a.registryHost);
      out.println("pullmesh-seeder export: " + r.models().size() + " model(s) written to " + dir
          + (r.models().isEmpty() ? "" : ": " + String.join(", ", r.models())));
      out.println("  blobs: " + r.blobsWritten() + " written (" + Bytes.human(r.bytesWritten()) + "), " + r.blobsPresent() + " already there");
      if (!r.models().isEmpty()) {
        out.println("  use them with: OLLAMA_MODELS=" + dir.toAbsolutePath() + " ollama serve");
      }
      for (String f : r.failures()) {
        err.println("pullmesh-seeder export: " + f);
      }
      return r.failures().isEmpty() ? 0 : 1;
    } catch (IOException e) {
      err.println("pullmesh-seeder export: " + e.getMessage());
      return 1;
    }
  }

  /** The tags the cache holds, as names, for a message; at most 20. */
  private static String held(BlobStore store) {
    TreeSet<String> all = new TreeSet<>();
    for (TagRecord t : store.catalog().tags()) {
      all.add(new ModelName(t.repository(), t.tag()).toString());
    }
    if (all.isEmpty()) {
      return "no models";
    }
    List<String> first = new ArrayList<>(all).subList(0, Math.min(20, all.size()));
    return String.join(", ", first) + (all.size() > 20 ? " and " + (all.size() - 20) + " more" : "");
  }
}
