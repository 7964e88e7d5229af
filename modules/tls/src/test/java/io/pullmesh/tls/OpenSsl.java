package io.pullmesh.tls;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** Runs the {@code openssl} command line tool for cross-checks; tests using it are skipped where it is missing. */
final class OpenSsl {
  /** What a run printed (stdout and stderr together) and its exit code. */
  record Result(int exit, String output) {}

  private static Boolean available;

  private OpenSsl() {}

  static synchronized void assumeAvailable() {
    if (available == null) {
      try {
        available = run(null, "version").exit() == 0;
      } catch (IOException e) {
        available = false;
      }
    }
    Assumptions.assumeTrue(available, "openssl is not installed; skipping the OpenSSL cross-check");
  }

  static Result run(Path dir, String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add("openssl");
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    if (dir != null) {
      pb.directory(dir.toFile());
    }
    Process p = pb.start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException("openssl " + String.join(" ", args) + " did not finish");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    return new Result(p.exitValue(), out);
  }
}
