package io.pullmesh.proxy;

import io.pullmesh.core.Bytes;
import io.pullmesh.proxy.cli.AdminCli;
import io.pullmesh.proxy.cli.VerifyCommand;
import io.pullmesh.store.CacheUnusableException;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Level;

/**
 * {@code java -jar pullmesh-proxy.jar [serve] [options]} runs the proxy; {@code admin <command>} is a client of a
 * running proxy's admin API; {@code verify} checks a stopped proxy's cache. See {@code --help}. Exit codes: 0 ok, 1
 * the operation failed or found problems, 2 bad usage or configuration, cannot connect, or refused.
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args, System.getenv(), System.out, System.err, true, Terminal.stderrIsTerminal()));
  }

  /** As {@link #run(String[], Map, PrintStream, PrintStream, boolean, boolean)} with stderr not a terminal. */
  static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err, boolean block) {
    return run(args, env, out, err, block, false);
  }

  /**
   * Dispatches on the first argument: {@code admin ...} and {@code verify ...} run a command and return; otherwise
   * ({@code serve}, flags or nothing) runs the proxy until the JVM is asked to stop (when {@code block}), or returns
   * after start.
   *
   * @param terminal whether stderr is a terminal (progress bars are redrawn in place)
   * @return the exit code
   */
  static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err, boolean block, boolean terminal) {
    String first = args.length > 0 ? args[0] : "";
    String[] rest = args.length > 0 ? Arrays.copyOfRange(args, 1, args.length) : args;
    switch (first) {
      case "admin" -> {
        return AdminCli.run(rest, env, out, err, terminal);
      }
      case "verify" -> {
        LogSetup.configure(Level.WARNING);
        return VerifyCommand.run(rest, env, ProxyConfig.defaultCacheDir(env), out, err, terminal);
      }
      case "ca" -> {
        return io.pullmesh.proxy.cli.CaCommand.run(rest, env, ProxyConfig.defaultCacheDir(env), out, err);
      }
      case "serve" -> {
        return serve(rest, env, out, err, block);
      }
      default -> {
        return serve(args, env, out, err, block);
      }
    }
  }

  private static int serve(String[] args, Map<String, String> env, PrintStream out, PrintStream err, boolean block) {
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
        + " (upstream " + Redaction.url(config.upstream()) + ", cache " + proxy.store().root() + " holding "
        + Bytes.human(proxy.store().committedBytes()) + " in " + proxy.store().committedBlobs() + " blobs, "
        + config.upstreamConnections() + " connections per blob"
        + (proxy.transferPort() > 0 ? ", blob port " + proxy.transferPort() + " for Ollama's x/transfer downloader" : "") + ")");
    LogSetup.print(out, "pullmesh admin API at " + proxy.url() + AdminApi.PREFIX + " (changes "
        + (config.adminToken() != null ? "need the --admin-token" : "from this machine only: no --admin-token set")
        + "); e.g. java -jar pullmesh-proxy.jar admin stats --url " + proxy.url());
    if (proxy.ca() != null) {
      LogSetup.print(out, "pullmesh forward proxy: HTTPS_PROXY=" + proxy.url() + " intercepts " + config.interception().intercept()
          + " with the CA " + proxy.ca().certificateFile() + " (SHA-256 " + proxy.ca().fingerprintSha256().substring(0, 23)
          + "..., also at " + proxy.url() + "/ca.crt), tunnels " + config.interception().tunnel() + ", refuses the rest");
    }
    if (proxy.mesh() != null) {
      LogSetup.print(out, "pullmesh mesh " + config.mesh().name() + ": node " + proxy.mesh().node() + " with " + proxy.mesh().members().size()
          + " node(s), announcing its blobs; peers fetch them from " + proxy.url() + "/mesh/v1/blobs/ with the mesh secret");
    }
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
