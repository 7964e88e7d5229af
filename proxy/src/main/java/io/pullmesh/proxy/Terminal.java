package io.pullmesh.proxy;

import java.nio.file.Files;
import java.nio.file.Path;

/** Whether stderr is a terminal, so progress can be redrawn in place rather than printed as lines. */
public final class Terminal {
  private Terminal() {}

  public static boolean stderrIsTerminal() {
    try {
      // Linux: what file descriptor 2 is open on
      Path fd2 = Path.of("/proc/self/fd/2");
      if (Files.isSymbolicLink(fd2)) {
        String target = Files.readSymbolicLink(fd2).toString();
        return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
      }
    } catch (java.io.IOException | RuntimeException e) {
      // not Linux, or not allowed to look: fall back below
    }
    // elsewhere: a console means stdin and stdout are a terminal, and stderr usually goes with them
    return System.console() != null;
  }
}
