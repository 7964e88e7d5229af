package io.pullmesh.seeder;

import io.pullmesh.proxy.ProxyConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The arguments of {@code import} and {@code export}: operands, {@code --cache-dir}, {@code --registry-host}. */
final class OfflineArgs {
  final List<String> operands = new ArrayList<>();
  String cacheDir;
  String registryHost = ModelName.DEFAULT_HOST;
  boolean help;

  static OfflineArgs parse(String[] args, Map<String, String> env, String command) throws UsageException {
    OfflineArgs o = new OfflineArgs();
    o.cacheDir = env.get("PULLMESH_CACHE_DIR");
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--help") || a.equals("-h")) {
        o.help = true;
        continue;
      }
      if (!a.startsWith("--")) {
        o.operands.add(a);
        continue;
      }
      String name = a;
      String value = null;
      int eq = a.indexOf('=');
      if (eq >= 0) {
        name = a.substring(0, eq);
        value = a.substring(eq + 1);
      }
      if (!name.equals("--cache-dir") && !name.equals("--registry-host")) {
        throw new UsageException("unknown option " + name + " (" + command + " takes --cache-dir DIR and --registry-host HOST; see "
            + command + " --help)");
      }
      if (value == null) {
        if (i + 1 >= args.length || args[i + 1].startsWith("--")) {
          throw new UsageException(name + " needs a value");
        }
        value = args[++i];
      }
      if (value.isBlank()) {
        throw new UsageException(name + " needs a value");
      }
      if (name.equals("--cache-dir")) {
        o.cacheDir = value;
      } else {
        if (!value.matches("[A-Za-z0-9.-]+(:[0-9]+)?")) {
          throw new UsageException("--registry-host: '" + value + "' is not a host name (e.g. registry.ollama.ai, or mirror.lan:9200)");
        }
        o.registryHost = value;
      }
    }
    return o;
  }

  Path cache(Map<String, String> env) {
    return cacheDir == null || cacheDir.isBlank() ? ProxyConfig.defaultCacheDir(env) : Path.of(cacheDir);
  }
}
