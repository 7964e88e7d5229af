package io.pullmesh.seeder;

import io.pullmesh.core.Bytes;
import io.pullmesh.proxy.LogSetup;
import io.pullmesh.proxy.cli.CliSpec;
import io.pullmesh.proxy.cli.ProgressDisplay;
import io.pullmesh.store.BlobStore;
import io.pullmesh.store.CacheInUseException;
import io.pullmesh.store.CacheUnusableException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.logging.Level;
import picocli.CommandLine.Model.CommandSpec;

/** {@code import DIR [--cache-dir DIR] [--registry-host HOST]}: an Ollama models directory into a stopped node's cache. */
final class ImportCommand {
  private ImportCommand() {}

  static CommandSpec spec() {
    CommandSpec spec = OfflineArgs.spec("import", "java -jar pullmesh-seeder.jar import DIR [--cache-dir DIR] [--registry-host HOST]",
        new String[] {"", "Imports the models of an Ollama models directory (~/.ollama/models, or $OLLAMA_MODELS) into a pullmesh cache, "
            + "offline: a node started on that cache then serves them without asking upstream. Every blob is copied and its SHA-256 and "
            + "size checked before it is committed; a blob whose bytes do not match its name is refused, and the models that need it are "
            + "not imported. Blobs the cache already holds are not copied again.",
            "No node may be running on the cache (stop it, or import into another directory and start a node on that)."},
        new String[] {"", "Exit codes: 0 every model imported, 1 a blob was refused or a model not imported (each is named), 2 bad usage, "
            + "no models directory, or the cache is in use."});
    CliSpec.summary(spec, "import an Ollama models directory (~/.ollama/models) into a cache, verifying every blob");
    return spec;
  }

  static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err, boolean terminal, Clock clock) throws UsageException {
    CommandSpec spec = spec();
    OfflineArgs a = OfflineArgs.parse(spec, args, env);
    if (a.help) {
      out.print(CliSpec.usage(spec));
      return 0;
    }
    if (a.operands.size() != 1) {
      throw new UsageException(a.operands.isEmpty() ? "name the Ollama models directory to import, e.g. import ~/.ollama/models"
          : "import takes one directory, got " + a.operands.size() + ": " + String.join(" ", a.operands));
    }
    Path given = Path.of(a.operands.get(0));
    if (!Files.isDirectory(given)) {
      throw new UsageException(given + " is not a directory (an Ollama models directory is usually ~/.ollama/models, or $OLLAMA_MODELS)");
    }
    Path root = OllamaDir.resolve(given);
    if (root == null) {
      throw new UsageException(given + " is not an Ollama models directory: it has no manifests/ or blobs/ (it is usually "
          + "~/.ollama/models, or $OLLAMA_MODELS; for the system service /usr/share/ollama/.ollama/models)");
    }
    Path cache = a.cache(env);
    LogSetup.configure(Level.WARNING);
    BlobStore store;
    try {
      store = BlobStore.open(cache, clock);
    } catch (CacheInUseException e) {
      throw new UsageException("the cache " + cache.toAbsolutePath() + " is in use by a running pullmesh node: stop it and import again, "
          + "or import into another --cache-dir and start a node on that one");
    } catch (CacheUnusableException e) {
      throw new UsageException(e.getMessage());
    }
    Importer.Report r;
    try (store) {
      ProgressDisplay display = new ProgressDisplay(err, terminal, System::nanoTime, 5_000_000_000L);
      r = new Importer(store, clock, display).run(root, a.registryHost);
    } catch (IOException e) {
      err.println("pullmesh-seeder import: " + e.getMessage());
      return 1;
    }
    String from = "from " + root + " into " + store.root();
    if (r.models().isEmpty() && r.notImported().isEmpty()) {
      StringBuilder b = new StringBuilder("pullmesh-seeder import: no models of " + a.registryHost + " in " + root);
      if (!r.otherHosts().isEmpty()) {
        b.append(" (it has models of ").append(String.join(", ", r.otherHosts().keySet())).append(": choose one with --registry-host)");
      }
      err.println(b);
      return 1;
    }
    out.println("pullmesh-seeder import: " + r.models().size() + " model(s) imported " + from
        + (r.models().isEmpty() ? "" : ": " + String.join(", ", r.models())));
    out.println("  blobs: " + r.blobsImported() + " imported (" + Bytes.human(r.bytesImported()) + "), " + r.blobsSkipped()
        + " already in the cache (" + Bytes.human(r.bytesSkipped()) + "), " + r.refused().size() + " refused");
    if (!r.otherHosts().isEmpty()) {
      StringBuilder b = new StringBuilder("  not imported: manifests of other registries (");
      r.otherHosts().forEach((h, n) -> b.append(h).append(": ").append(n).append(", "));
      b.setLength(b.length() - 2);
      out.println(b.append("); import them with --registry-host HOST"));
    }
    if (!r.unrecognised().isEmpty()) {
      out.println("  ignored " + r.unrecognised().size() + " file(s) under manifests/ that are not at <host>/<namespace>/<model>/<tag>, e.g. "
          + r.unrecognised().get(0));
    }
    out.flush();
    if (r.ok()) {
      return 0;
    }
    for (Importer.Refused x : r.refused()) {
      err.println("pullmesh-seeder import: refused blob " + x.digest() + " (" + x.file() + "): " + x.reason());
    }
    for (Importer.NotImported x : r.notImported()) {
      err.println("pullmesh-seeder import: model " + x.name() + " not imported (" + x.file() + "): " + x.reason());
    }
    return 1;
  }
}
