package io.pullmesh.proxy.cli;

import io.pullmesh.proxy.ProxyConfig.Option;
import io.pullmesh.tls.CertificateAuthority;
import io.pullmesh.tls.KeyAlgorithm;
import io.pullmesh.tls.TlsSetupException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.UsageMessageSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * {@code java -jar pullmesh-proxy.jar ca print|rotate [--ca-dir DIR | --cache-dir DIR]}: prints pullmesh's CA
 * certificate (PEM on stdout, to install where clients trust it; a CA is made if there is none yet), or replaces
 * it with a new one (the old pair is kept beside it). Exit codes: 0 done, 1 the files could not be read or written,
 * 2 bad usage or unusable CA files.
 */
public final class CaCommand {
  private CaCommand() {}

  /** The {@code ca} command line: print or rotate, and where the CA is. */
  public static CommandSpec spec() {
    CommandSpec spec = CliSpec.command("ca");
    spec.usageMessage().customSynopsis("java -jar pullmesh-proxy.jar ca print|rotate [--ca-dir DIR | --cache-dir DIR] [options]");
    CliSpec.summary(spec, "print pullmesh's CA certificate (PEM, to trust), or rotate it (restart the proxy after)");
    CliSpec.section(spec, "commands", UsageMessageSpec.SECTION_KEY_SYNOPSIS, help -> "\nCommands:\n" + CliSpec.table(help, COMMANDS));
    spec.addOption(CliSpec.option(Option.CA_DIR));
    spec.addOption(CliSpec.option(Option.CACHE_DIR, "the proxy's"));
    spec.addOption(CliSpec.option(Option.CA_KEY_TYPE));
    spec.addOption(CliSpec.helpOption());
    spec.addPositional(CliSpec.positional("COMMAND", "0", List.copyOf(COMMANDS.keySet()), "print or rotate"));
    spec.addPositional(CliSpec.positional("ARG", "1..*", List.of(), "nothing: refused"));
    return spec;
  }

  private static final Map<String, String> COMMANDS = new LinkedHashMap<>();

  static {
    COMMANDS.put("print", "write the CA certificate (PEM) to stdout, e.g. `ca print > pullmesh-ca.crt`; its details go to stderr. "
        + "Makes the CA if there is none yet, so it can be handed out before the proxy first starts.");
    COMMANDS.put("rotate", "replace the CA with a new one; the previous ca.crt and ca.key are kept as ca.crt.<time> and ca.key.<time>. "
        + "Restart the proxy afterwards, and give clients the new certificate.");
  }

  public static String usage() {
    return CliSpec.usage(spec());
  }

  /**
   * @param defaultCacheDir the proxy's default cache directory
   */
  public static int run(String[] args, Map<String, String> env, Path defaultCacheDir, PrintStream out, PrintStream err) {
    CommandSpec spec = spec();
    ParseResult parsed;
    try {
      parsed = CliSpec.parse(spec, args);
    } catch (ParameterException e) {
      err.println("pullmesh ca: " + CliSpec.failure(e).text() + " (see ca --help)");
      return CliException.USAGE;
    }
    List<String> words = CliSpec.positionals(spec);
    if (parsed.isUsageHelpRequested() || words.isEmpty() || words.get(0).equals("help")) {
      (words.isEmpty() && !parsed.isUsageHelpRequested() ? err : out).print(usage());
      return words.isEmpty() && !parsed.isUsageHelpRequested() ? CliException.USAGE : 0;
    }
    String command = words.get(0);
    if (!COMMANDS.containsKey(command)) {
      err.println("pullmesh ca: unknown command '" + command + "'" + CliSpec.didYouMean(CliSpec.closest(command, COMMANDS.keySet()))
          + " (use print or rotate; see ca --help)");
      return CliException.USAGE;
    }
    if (words.size() > 1) {
      err.println("pullmesh ca: unexpected argument '" + words.get(1) + "' (see ca --help)");
      return CliException.USAGE;
    }
    String caDir = CliSpec.value(parsed, Option.CA_DIR, env);
    String cacheDir = CliSpec.value(parsed, Option.CACHE_DIR, env);
    String keyType = CliSpec.value(parsed, Option.CA_KEY_TYPE, env);
    KeyAlgorithm algorithm;
    try {
      algorithm = KeyAlgorithm.parse(keyType);
    } catch (IllegalArgumentException e) {
      err.println("pullmesh ca: " + e.getMessage());
      return CliException.USAGE;
    }
    Path dir = caDir != null && !caDir.isBlank() ? Path.of(caDir)
        : (cacheDir != null && !cacheDir.isBlank() ? Path.of(cacheDir) : defaultCacheDir).resolve("ca");
    try {
      CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir, io.pullmesh.proxy.InterceptCa.nodeName(env), algorithm, Clock.systemUTC());
      if (command.equals("print")) {
        out.print(ca.certificatePem());
        err.println("pullmesh CA " + ca.certificate().getSubjectX500Principal().getName() + (ca.createdNow() ? " (made now)" : ""));
        err.println("  file     " + ca.certificateFile().toAbsolutePath());
        err.println("  SHA-256  " + ca.fingerprintSha256());
        err.println("  valid    " + ca.notBefore() + " to " + ca.notAfter());
        return 0;
      }
      CertificateAuthority.Rotation r = ca.rotate();
      out.println("rotated pullmesh's CA in " + dir.toAbsolutePath());
      out.println("  previous SHA-256 " + r.previousFingerprint() + " (kept as " + r.previousCertificate().getFileName()
          + " and " + r.previousKey().getFileName() + ")");
      out.println("  new      SHA-256 " + r.newFingerprint());
      out.println("restart the proxy to use it, and give clients the new " + ca.certificateFile().toAbsolutePath()
          + " (also served at GET /ca.crt)");
      return 0;
    } catch (TlsSetupException e) {
      err.println("pullmesh ca: " + e.getMessage());
      return CliException.USAGE;
    } catch (IOException e) {
      err.println("pullmesh ca: " + dir.toAbsolutePath() + ": " + e.getMessage());
      return 1;
    }
  }
}
