package io.pullmesh.testkit.tools;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/** Finding programs on the PATH and running them with a timeout, for tests. */
public final class Tools {
  /** When {@code true}, a missing tool fails the test instead of skipping it (CI installs the tools). */
  public static final String REQUIRE_PROPERTY = "pullmesh.require.tools";

  private Tools() {}

  /** The first executable file named {@code name} on the PATH. */
  public static Optional<Path> which(String name) {
    String path = System.getenv("PATH");
    if (path == null) {
      return Optional.empty();
    }
    for (String dir : path.split(File.pathSeparator)) {
      if (dir.isEmpty()) {
        continue;
      }
      Path candidate = Path.of(dir, name);
      if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
        return Optional.of(candidate);
      }
    }
    return Optional.empty();
  }

  /**
   * Returns the tool's path; when it is missing, skips the calling test with a clear message
   * ({@link Assumptions}), or fails it when the system property {@value #REQUIRE_PROPERTY} is {@code true}.
   */
  public static Path requireTool(String name) {
    Optional<Path> found = which(name);
    if (found.isPresent()) {
      return found.get();
    }
    String message = name + " is not on the PATH; install it to run this test"
        + " (with -D" + REQUIRE_PROPERTY + "=true a missing tool fails the build)";
    if (Boolean.getBoolean(REQUIRE_PROPERTY)) {
      return Assertions.fail(message);
    }
    Assumptions.assumeTrue(false, message);
    throw new IllegalStateException("unreachable");
  }

  public static Path requireTool(ExternalTool tool) {
    return requireTool(tool.executable());
  }

  /**
   * Runs a command, capturing stdout and stderr (through temporary files, so a chatty process never blocks on
   * a full pipe); kills it and its children at the timeout. Blocking.
   *
   * @throws UncheckedIOException when the process cannot be started
   */
  public static ProcessResult run(Duration timeout, List<String> command) {
    Path out = null;
    Path err = null;
    try {
      out = Files.createTempFile("pullmesh-tool-", ".out");
      err = Files.createTempFile("pullmesh-tool-", ".err");
      Process p = new ProcessBuilder(command)
          .redirectOutput(out.toFile())
          .redirectError(err.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
          .start();
      boolean finished = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
      if (!finished) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
      }
      return new ProcessResult(command, finished ? p.exitValue() : -1,
          Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8), !finished);
    } catch (IOException e) {
      throw new UncheckedIOException("running " + command + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while running " + command, e);
    } finally {
      deleteQuietly(out);
      deleteQuietly(err);
    }
  }

  public static ProcessResult run(Duration timeout, String... command) {
    return run(timeout, List.of(command));
  }

  private static void deleteQuietly(Path p) {
    if (p != null) {
      try {
        Files.deleteIfExists(p);
      } catch (IOException e) {
        // a temp file left behind is harmless
      }
    }
  }
}
