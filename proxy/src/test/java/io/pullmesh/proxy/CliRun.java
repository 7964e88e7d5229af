package io.pullmesh.proxy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Runs {@code java -jar pullmesh-proxy.jar <args>} in this JVM through {@link Main#run}, without blocking on a server it
 * starts, and keeps its exit code, stdout and stderr: for tests of the command line. Not for a proxy that must keep
 * serving (use {@link Harness}), nor for the jar as a process ({@code ProxyProcessIT}).
 */
final class CliRun {
  private CliRun() {}

  /** What a command did. */
  record Result(int exit, String out, String err) {
    @Override
    public String toString() {
      return "exit " + exit + "\nstdout:\n" + out + "\nstderr:\n" + err;
    }
  }

  /** With no environment, stderr not a terminal. */
  static Result run(String... args) {
    return run(Map.of(), false, args);
  }

  /** @param terminal whether stderr is to look like a terminal (progress bars instead of lines) */
  static Result run(Map<String, String> env, boolean terminal, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit = Main.run(args, env, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
        false, terminal);
    return new Result(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }
}
