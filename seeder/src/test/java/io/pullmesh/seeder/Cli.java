package io.pullmesh.seeder;

import io.pullmesh.proxy.PullmeshProxy;
import io.pullmesh.testkit.model.FakeModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** Runs the seeder's commands in-process with captured output, and builds Ollama models directories. */
final class Cli {
  private Cli() {}

  /** A finished command: exit code, stdout, stderr. */
  record Result(int code, String out, String err) {
    @Override
    public String toString() {
      return "exit " + code + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  /** Runs a command that ends by itself (not a daemon), with stderr not a terminal. */
  static Result run(String... args) {
    return run(false, args);
  }

  /** Runs a command that ends by itself (not a daemon). */
  static Result run(boolean terminal, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    Lifecycle never = () -> {
      throw new AssertionError("this command should not run as a daemon");
    };
    int code = Main.run(args, Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
        terminal, never, Clock.systemDefaultZone());
    return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  /**
   * A long-running command ({@code seed}, scheduled {@code prefetch}) on a thread of its own: {@link #node()} once it
   * serves, {@link #stop()} to end it as SIGTERM would.
   */
  static final class Daemon implements AutoCloseable {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private final CompletableFuture<PullmeshProxy> node = new CompletableFuture<>();
    private final CompletableFuture<Integer> exit = new CompletableFuture<>();
    private final CountDownLatch stop = new CountDownLatch(1);

    Daemon(String... args) {
      Lifecycle life = new Lifecycle() {
        @Override
        public void started(PullmeshProxy n) {
          node.complete(n);
        }

        @Override
        public void awaitStop() throws InterruptedException {
          stop.await();
        }
      };
      Thread t = new Thread(() -> {
        try {
          exit.complete(Main.run(args, Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8),
              new PrintStream(err, true, StandardCharsets.UTF_8), false, life, Clock.systemDefaultZone()));
        } catch (Throwable e) {
          exit.completeExceptionally(e);
        }
      }, "seeder-daemon-under-test");
      t.setDaemon(true);
      t.start();
    }

    /** The node, once started; fails with the output when the command ended instead. */
    PullmeshProxy node() throws Exception {
      CompletableFuture.anyOf(node, exit).get(90, TimeUnit.SECONDS);
      if (!node.isDone()) {
        throw new AssertionError("the command ended without starting a node: exit " + exit.get() + "\n" + out() + err());
      }
      return node.get();
    }

    String out() {
      return out.toString(StandardCharsets.UTF_8);
    }

    String err() {
      return err.toString(StandardCharsets.UTF_8);
    }

    /** Asks it to stop and returns its exit code. */
    int stop() throws Exception {
      stop.countDown();
      return exit.get(60, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws Exception {
      if (!exit.isDone()) {
        stop();
      }
    }
  }

  /**
   * Writes the models' manifests into {@code dir}, Ollama's way ({@code manifests/registry.ollama.ai/<ns>/<model>/<tag>});
   * their blobs must already be at {@code dir/blobs/sha256-<hex>} (create them with {@code ModelFixture.create(dir)}).
   */
  static void writeManifests(Path dir, FakeModel... models) throws IOException {
    for (FakeModel m : models) {
      writeManifest(dir, "registry.ollama.ai/" + m.repository() + "/" + m.tag(), m);
    }
  }

  /** Writes {@code m}'s manifest at {@code dir/manifests/<path>}, where path is {@code <host>/<ns>/<model>/<tag>}. */
  static void writeManifest(Path dir, String path, FakeModel m) throws IOException {
    Path p = dir.resolve("manifests").resolve(path);
    Files.createDirectories(p.getParent());
    Files.write(p, m.manifestBytes());
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      return s.getLocalPort();
    }
  }
}
