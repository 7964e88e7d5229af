package io.pullmesh.loadtest;

import io.pullmesh.testkit.tools.ExternalTool;
import java.nio.file.Path;

final class ExternalPaths {
  private ExternalPaths() {}

  static String nginx() {
    return ExternalTool.NGINX.find().map(Path::toString).orElse("/usr/sbin/nginx");
  }
}
