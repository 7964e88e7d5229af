package io.pullmesh.testkit.tools;

import java.util.List;

/**
 * How a subprocess ended.
 *
 * @param command what was run
 * @param exitCode its exit code, or -1 when it was killed for running too long
 * @param stdout everything it printed on stdout (UTF-8)
 * @param stderr everything it printed on stderr (UTF-8)
 * @param timedOut whether it was killed at the timeout
 */
public record ProcessResult(List<String> command, int exitCode, String stdout, String stderr, boolean timedOut) {
  public ProcessResult {
    command = List.copyOf(command);
  }

  public boolean succeeded() {
    return exitCode == 0 && !timedOut;
  }

  /** A one-paragraph account for assertion messages. */
  public String describe() {
    return String.join(" ", command) + "\n-> " + (timedOut ? "timed out" : "exit " + exitCode)
        + (stdout.isBlank() ? "" : "\nstdout: " + stdout.strip())
        + (stderr.isBlank() ? "" : "\nstderr: " + stderr.strip());
  }
}
