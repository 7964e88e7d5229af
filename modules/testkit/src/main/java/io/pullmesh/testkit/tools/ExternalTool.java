package io.pullmesh.testkit.tools;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * A command-line program the tests drive as a generic client or server: each stands for itself (real curl,
 * real aria2c...), found on the PATH.
 */
public enum ExternalTool {
  CURL("curl"),
  ARIA2C("aria2c"),
  NGINX("nginx"),
  SKOPEO("skopeo"),
  /** The CNCF distribution registry (Debian package {@code docker-registry}), used as a real OCI upstream. */
  DOCKER_REGISTRY("docker-registry"),
  /** The Prometheus server, run against a proxy to query the dashboards' and alerts' expressions. */
  PROMETHEUS("prometheus"),
  /** Prometheus' checker for configuration and rule files (same Debian package as the server). */
  PROMTOOL("promtool");

  private final String executable;

  ExternalTool(String executable) {
    this.executable = executable;
  }

  public String executable() {
    return executable;
  }

  /** The tool's path, if it is on the PATH. */
  public Optional<Path> find() {
    return Tools.which(executable);
  }

  public boolean available() {
    return find().isPresent();
  }

  /** Runs the tool with these arguments (it must be on the PATH). */
  public ProcessResult run(Duration timeout, String... args) {
    Path exe = find().orElseThrow(() -> new IllegalStateException(executable + " is not on the PATH"));
    List<String> cmd = new ArrayList<>();
    cmd.add(exe.toString());
    cmd.addAll(Arrays.asList(args));
    return Tools.run(timeout, cmd);
  }
}
