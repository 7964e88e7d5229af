package io.pullmesh.proxy.cli;

import io.pullmesh.tls.CertificateAuthority;
import io.pullmesh.tls.KeyAlgorithm;
import io.pullmesh.tls.TlsSetupException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;

/**
 * {@code java -jar pullmesh-proxy.jar ca print|rotate [--ca-dir DIR | --cache-dir DIR]}: prints pullmesh's CA
 * certificate (PEM on stdout, to install where clients trust it; a CA is made if there is none yet), or replaces
 * it with a new one (the old pair is kept beside it). Exit codes: 0 done, 1 the files could not be read or written,
 * 2 bad usage or unusable CA files.
 */
public final class CaCommand {
  private CaCommand() {}

  public static String usage() {
    return """
        Usage: java -jar pullmesh-proxy.jar ca print  [--ca-dir DIR | --cache-dir DIR] [--ca-key-type TYPE]
               java -jar pullmesh-proxy.jar ca rotate [--ca-dir DIR | --cache-dir DIR] [--ca-key-type TYPE]

        print   write the CA certificate (PEM) to stdout, e.g. `ca print > pullmesh-ca.crt`; its details go to
                stderr. Makes the CA if there is none yet, so it can be handed out before the proxy first starts.
        rotate  replace the CA with a new one; the previous ca.crt and ca.key are kept as ca.crt.<time> and
                ca.key.<time>. Restart the proxy afterwards, and give clients the new certificate.

          --ca-dir DIR         the CA's directory [default: PULLMESH_CA_DIR, else <cache-dir>/ca]
          --cache-dir DIR      the proxy's cache [default: PULLMESH_CACHE_DIR, else the proxy's default]
          --ca-key-type TYPE   ecdsa-p256 (default) or rsa-3072, for a CA made now
        """;
  }

  /**
   * @param defaultCacheDir the proxy's default cache directory
   */
  public static int run(String[] args, Map<String, String> env, Path defaultCacheDir, PrintStream out, PrintStream err) {
    if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
      (args.length == 0 ? err : out).print(usage());
      return args.length == 0 ? CliException.USAGE : 0;
    }
    String command = args[0];
    if (!command.equals("print") && !command.equals("rotate")) {
      err.println("pullmesh ca: unknown command '" + command + "' (use print or rotate; see ca --help)");
      return CliException.USAGE;
    }
    String caDir = env.get("PULLMESH_CA_DIR");
    String cacheDir = env.get("PULLMESH_CACHE_DIR");
    String keyType = env.getOrDefault("PULLMESH_CA_KEY_TYPE", "ecdsa-p256");
    for (int i = 1; i < args.length; i++) {
      String a = args[i];
      String name = a;
      String value = null;
      int eq = a.indexOf('=');
      if (a.startsWith("--") && eq > 0) {
        name = a.substring(0, eq);
        value = a.substring(eq + 1);
      } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
        value = args[i + 1];
      }
      switch (name) {
        case "--help", "-h" -> {
          out.print(usage());
          return 0;
        }
        case "--ca-dir", "--cache-dir", "--ca-key-type" -> {
          if (value == null) {
            err.println("pullmesh ca: " + name + " needs a value (see ca --help)");
            return CliException.USAGE;
          }
          if (eq < 0) {
            i++;
          }
          switch (name) {
            case "--ca-dir" -> caDir = value;
            case "--cache-dir" -> cacheDir = value;
            default -> keyType = value;
          }
        }
        default -> {
          err.println("pullmesh ca: unexpected argument '" + a + "' (see ca --help)");
          return CliException.USAGE;
        }
      }
    }
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
      CertificateAuthority ca = CertificateAuthority.loadOrCreate(dir, io.pullmesh.proxy.PullmeshProxy.nodeName(env), algorithm, Clock.systemUTC());
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
