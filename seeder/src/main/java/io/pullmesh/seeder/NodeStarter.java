package io.pullmesh.seeder;

import io.pullmesh.core.Bytes;
import io.pullmesh.proxy.ConfigException;
import io.pullmesh.proxy.ProxyConfig;
import io.pullmesh.proxy.PullmeshProxy;
import io.pullmesh.store.CacheInUseException;
import io.pullmesh.store.CacheUnusableException;
import java.io.PrintStream;
import java.util.List;
import java.util.Map;

/** Starting a node the way the proxy's command line does, for the commands that run one. */
final class NodeStarter {
  private NodeStarter() {}

  /** The proxy configuration from the proxy options; warnings printed. */
  static ProxyConfig config(List<String> proxyArgs, Map<String, String> env, PrintStream err, String command) throws UsageException {
    ProxyConfig.Parsed parsed;
    try {
      parsed = ProxyConfig.parse(proxyArgs.toArray(String[]::new), env);
    } catch (ConfigException e) {
      throw new UsageException(e.getMessage().replace("(see --help)", "(see " + command + " --help)"));
    }
    if (!(parsed instanceof ProxyConfig.Run run)) {
      throw new UsageException("--version is not an option of " + command);
    }
    for (String w : run.warnings()) {
      err.println("pullmesh-seeder " + command + ": warning: " + w);
    }
    return run.config();
  }

  /**
   * @param inUseHint what to do when a running node holds the cache
   * @throws UsageException when the cache or the address cannot be used, or the mesh cannot be joined
   */
  static PullmeshProxy start(ProxyConfig config, String inUseHint) throws UsageException {
    try {
      return PullmeshProxy.start(config);
    } catch (CacheInUseException e) {
      throw new UsageException("the cache " + config.cacheDir().toAbsolutePath() + " is in use by a running pullmesh node: " + inUseHint);
    } catch (CacheUnusableException | IllegalStateException e) {
      throw new UsageException(e.getMessage());
    }
  }

  /** {@code /var/cache/pullmesh holding 3.0 GiB in 12 blobs}. */
  static String cacheSummary(PullmeshProxy node) {
    return node.store().root() + " holding " + Bytes.human(node.store().committedBytes()) + " in " + node.store().committedBlobs() + " blobs";
  }

  /** The URL other machines reach the node by: --public-url, else the mesh or listen address (127.0.0.1 for a wildcard). */
  static String reachableUrl(ProxyConfig config, PullmeshProxy node) {
    if (config.publicUrl() != null) {
      return config.publicUrl().toString().replaceAll("/+$", "");
    }
    if (config.mesh() != null) {
      String h = config.mesh().bindHost();
      return "http://" + (h.contains(":") ? "[" + h + "]" : h) + ":" + node.port();
    }
    return node.url();
  }
}
