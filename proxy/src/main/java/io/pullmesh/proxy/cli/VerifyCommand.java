package io.pullmesh.proxy.cli;

import io.pullmesh.core.Digest;
import io.pullmesh.proxy.ProxyConfig.Option;
import io.pullmesh.store.BlobStore;
import io.pullmesh.store.BlobVerifier;
import io.pullmesh.store.CacheInUseException;
import io.pullmesh.store.CacheUnusableException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * {@code java -jar pullmesh-proxy.jar verify [--cache-dir DIR]}: re-hashes every blob of a cache no proxy is using,
 * moving those whose bytes no longer match their digest to {@code quarantine/}. Exit codes: 0 all blobs match, 1
 * some were corrupt or unreadable, 2 bad usage, no cache there, or a proxy holds it.
 */
public final class VerifyCommand {
  private VerifyCommand() {}

  /** The {@code verify} command line. */
  public static CommandSpec spec() {
    CommandSpec spec = CliSpec.command("verify");
    spec.usageMessage().customSynopsis("java -jar pullmesh-proxy.jar verify [--cache-dir DIR]")
        .description("", "Re-hashes every blob of a stopped proxy's cache; corrupt ones are moved to DIR/quarantine/.",
            "While a proxy runs on the cache, use `admin verify` instead.");
    CliSpec.summary(spec, "re-hash every blob of a cache no proxy is running on; corrupt ones go to quarantine/");
    spec.addOption(CliSpec.option(Option.CACHE_DIR, "the proxy's"));
    spec.addOption(CliSpec.helpOption());
    return spec;
  }

  public static String usage() {
    return CliSpec.usage(spec());
  }

  /**
   * @param defaultCacheDir the proxy's default cache directory (used without --cache-dir and PULLMESH_CACHE_DIR)
   * @param terminal whether stderr is a terminal
   */
  public static int run(String[] args, Map<String, String> env, Path defaultCacheDir, PrintStream out, PrintStream err, boolean terminal) {
    ParseResult parsed;
    try {
      parsed = CliSpec.parse(spec(), args);
    } catch (ParameterException e) {
      CliSpec.Failure f = CliSpec.failure(e);
      String what = switch (f.kind()) {
        case UNKNOWN_OPTION -> "unexpected argument '" + f.subject() + "'" + CliSpec.didYouMean(f.suggestion());
        default -> f.text();
      };
      err.println("pullmesh verify: " + what + " (usage: verify [--cache-dir DIR])");
      return CliException.USAGE;
    }
    if (parsed.isUsageHelpRequested()) {
      out.print(usage());
      return 0;
    }
    String dir = CliSpec.value(parsed, Option.CACHE_DIR, env);
    Path cache = dir == null || dir.isBlank() ? defaultCacheDir : Path.of(dir);
    if (!Files.isDirectory(cache.resolve("index"))) {
      err.println("pullmesh verify: no pullmesh cache at " + cache.toAbsolutePath() + " (choose one with --cache-dir)");
      return CliException.USAGE;
    }
    BlobStore store;
    try {
      store = BlobStore.open(cache, Clock.systemUTC());
    } catch (CacheInUseException e) {
      err.println("pullmesh verify: " + cache.toAbsolutePath() + " is in use by a running proxy: stop it first, or verify "
          + "through it with `admin verify`");
      return CliException.USAGE;
    } catch (CacheUnusableException e) {
      err.println("pullmesh verify: " + e.getMessage());
      return CliException.USAGE;
    }
    try (store) {
      ProgressDisplay display = new ProgressDisplay(err, terminal, System::nanoTime, 2_000_000_000L);
      long[] last = new long[4];
      BlobVerifier.Report r = BlobVerifier.verify(store, d -> false, (blobs, blobsTotal, bytes, bytesTotal) -> {
        last[0] = blobs;
        last[1] = blobsTotal;
        last[2] = bytes;
        last[3] = bytesTotal;
        display.update("verify " + blobs + "/" + blobsTotal + " blobs", bytes, bytesTotal, 0);
      });
      display.done("verify " + last[0] + "/" + last[1] + " blobs", last[2], last[3], 0);
      return VerifyReport.print(out, r.checked(), r.bytes(), strings(r.corrupt()), strings(r.skipped()), r.unreadable(),
          store.root().resolve("quarantine") + "/");
    }
  }

  private static List<String> strings(List<Digest> digests) {
    List<String> out = new ArrayList<>();
    digests.forEach(d -> out.add(d.toString()));
    return out;
  }
}
