package io.pullmesh.proxy.cli;

import java.io.PrintStream;
import java.util.List;

/** What a verification found, for people; shared by {@code admin verify} (server side) and {@code verify} (offline). */
final class VerifyReport {
  private VerifyReport() {}

  /**
   * @param quarantine where corrupt blobs were moved
   * @return the exit code: 0 when every checked blob matched, 1 when some were corrupt or unreadable
   */
  static int print(PrintStream out, long checked, long bytes, List<String> corrupt, List<String> skipped, List<String> unreadable,
      String quarantine) {
    StringBuilder b = new StringBuilder("checked ").append(Human.count(checked, "blob")).append(" (").append(Human.size(bytes)).append(")");
    if (corrupt.isEmpty() && unreadable.isEmpty()) {
      b.append(": all match their digests");
    } else {
      if (!corrupt.isEmpty()) {
        b.append(": ").append(corrupt.size()).append(" corrupt, moved to ").append(quarantine);
      }
      if (!unreadable.isEmpty()) {
        b.append(corrupt.isEmpty() ? ": " : "; ").append(unreadable.size()).append(" unreadable");
      }
    }
    out.println(b);
    for (String d : corrupt) {
      out.println("  corrupt     " + d);
    }
    for (String u : unreadable) {
      out.println("  unreadable  " + u);
    }
    for (String d : skipped) {
      out.println("  skipped     " + d + " (in use: checked on the next run)");
    }
    return corrupt.isEmpty() && unreadable.isEmpty() ? 0 : CliException.FAILED;
  }
}
