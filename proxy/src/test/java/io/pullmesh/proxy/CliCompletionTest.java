package io.pullmesh.proxy;

import static io.pullmesh.proxy.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.proxy.CliRun.Result;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code completion} prints a script that bash runs to complete the jar's commands, options and their values. */
class CliCompletionTest {
  @TempDir Path dir;

  @Test
  void theScriptKnowsEveryCommandAndOption() {
    Result r = run("completion");
    assertEquals(0, r.exit(), r.err());
    assertTrue(r.out().contains("complete -F _complete_pullmesh-proxy "), r.out());
    for (String c : Main.COMMANDS) {
      assertTrue(r.out().contains("function _picocli_pullmesh-proxy_" + c + "()"), c);
    }
    for (ProxyConfig.Option o : ProxyConfig.Option.values()) {
      assertTrue(r.out().contains(o.flag()), o.flag());
    }
    assertEquals(r.out(), run("completion", "zsh").out(), "one script for both shells");
    assertTrue(run("completion", "--name", "pm").out().contains("complete -F _complete_pm "));
    Result fish = run("completion", "fish");
    assertEquals(2, fish.exit());
    assertEquals("pullmesh completion: no completion for fish (bash or zsh)\n", fish.err());
  }

  /** What bash offers after {@code words} (the last one being completed). */
  private String complete(Path script, String... words) throws Exception {
    StringBuilder call = new StringBuilder("source '" + script + "' 2>/dev/null\nCOMP_WORDS=(");
    for (String w : words) {
      call.append('\'').append(w).append("' ");
    }
    call.append(")\nCOMP_CWORD=").append(words.length - 1).append("\nCOMP_LINE=\"${COMP_WORDS[*]}\"\nCOMP_POINT=${#COMP_LINE}\n")
        .append("_complete_pullmesh-proxy pullmesh-proxy \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\" 2>/dev/null\n")
        .append("echo \"${COMPREPLY[*]}\"\n");
    Process p = new ProcessBuilder("bash", "--norc", "--noprofile", "-c", call.toString()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    return out;
  }

  @Test
  void bashCompletesCommandsOptionsAndValues() throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/bin/bash")) || Files.isExecutable(Path.of("/usr/bin/bash")), "needs bash");
    Path script = Files.writeString(dir.resolve("pullmesh-proxy.bash"), run("completion").out());
    assertEquals("serve admin verify ca completion", complete(script, "pullmesh-proxy", ""));
    assertEquals("--listen", complete(script, "pullmesh-proxy", "--lis"));
    assertEquals("--listen", complete(script, "pullmesh-proxy", "serve", "--lis"));
    assertEquals("text json", complete(script, "pullmesh-proxy", "--log-format", ""));
    assertEquals("error warn info debug", complete(script, "pullmesh-proxy", "--log-level", ""));
    assertEquals(String.join(" ", List.of("stats", "models", "blobs", "downloads", "pins", "aliases", "pin", "unpin", "evict", "refresh",
        "prefetch", "alias", "unalias", "verify")), complete(script, "pullmesh-proxy", "admin", ""));
    assertEquals("--url", complete(script, "pullmesh-proxy", "admin", "stats", "--u"));
    assertEquals("print rotate", complete(script, "pullmesh-proxy", "ca", ""));
    assertEquals("ecdsa-p256 rsa-3072", complete(script, "pullmesh-proxy", "ca", "print", "--ca-key-type", ""));
    Files.writeString(dir.resolve("mesh.secret"), "x");
    assertTrue(complete(script, "pullmesh-proxy", "--mesh-secret-file", dir + "/me").contains(dir + "/mesh.secret"), "file names");
  }
}
