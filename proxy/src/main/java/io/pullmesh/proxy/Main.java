package io.pullmesh.proxy;

import io.pullmesh.core.Bytes;
import io.pullmesh.store.CacheUnusableException;
import java.io.PrintStream;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/** {@code java -jar pullmesh-proxy.jar [options]}: see {@code --help}. Exit codes: 0 ok, 2 bad configuration. */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args, System.getenv(), System.out, System.err, true));
  }

  /**
   * Runs the proxy until the JVM is asked to stop (when {@code block}), or returns after start.
   *
   * @return the exit code
   */
  static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err, boolean block) {
    ProxyConfig.Parsed parsed;
    try {
      parsed = ProxyConfig.parse(args, env);
    } catch (ConfigException e) {
      err.println("pullmesh: " + e.getMessage());
      return 2;
    }
    if (parsed instanceof ProxyConfig.Help h) {
      out.print(h.text());
      return 0;
    }
    if (parsed instanceof ProxyConfig.Version v) {
      out.println(v.text());
      return 0;
    }
    ProxyConfig.Run run = (ProxyConfig.Run) parsed;
    ProxyConfig config = run.config();
    LogSetup.configure(config.logLevel());
    for (String w : run.warnings()) {
      err.println("pullmesh: warning: " + w);
    }
    PullmeshProxy proxy;
    try {
      proxy = PullmeshProxy.start(config);
    } catch (CacheUnusableException | IllegalStateException e) {
      err.println("pullmesh: " + e.getMessage());
      return 2;
    }
    LogSetup.print(out, "pullmesh proxy " + ProxyConfig.VERSION + " listening on http://" + hostForUrl(config.listenHost()) + ":" + proxy.port()
        + " (upstream " + config.upstream() + ", cache " + proxy.store().root() + " holding "
        + Bytes.human(proxy.store().committedBytes()) + " in " + proxy.store().committedBlobs() + " blobs, "
        + config.upstreamConnections() + " connections per blob)");
    if (!block) {
      Runtime.getRuntime().addShutdownHook(new Thread(proxy::close, "pullmesh-shutdown"));
      return 0;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      err.println("pullmesh: shutting down");
      proxy.close();
      stopped.countDown();
    }, "pullmesh-shutdown"));
    try {
      stopped.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return 0;
  }

  private static String hostForUrl(String host) {
    return host.contains(":") ? "[" + host + "]" : host;
  }
}
