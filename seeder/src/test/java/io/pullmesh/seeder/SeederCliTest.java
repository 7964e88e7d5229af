package io.pullmesh.seeder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.proxy.ProxyConfig;
import org.junit.jupiter.api.Test;

/** The seeder's command line on picocli: its completion script, suggestions, and the node commands' option sections. */
class SeederCliTest {
  @Test
  void completionKnowsEveryCommandAndItsOptions() {
    Cli.Result r = Cli.run("completion");
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.out().contains("complete -F _complete_pullmesh-seeder "), r.out());
    for (String c : Main.COMMANDS) {
      assertTrue(r.out().contains("function _picocli_pullmesh-seeder_" + c + "()"), c);
    }
    for (String o : new String[] {"--prefetch-list", "--every", "--at", "--list", "--registry-host", "--mesh-secret-file", "--log-format"}) {
      assertTrue(r.out().contains(o), o);
    }
  }

  @Test
  void mistypedCommandsAndOptionsAreNamed() {
    Cli.Result command = Cli.run("sed", "--mesh-name", "office");
    assertEquals(2, command.code());
    assertEquals("pullmesh-seeder: unknown command 'sed'; did you mean seed? (commands: seed, prefetch, import, export, completion; "
        + "see --help)\n", command.err());
    Cli.Result own = Cli.run("seed", "--prefetch-lst", "models.txt");
    assertEquals(2, own.code());
    assertEquals("pullmesh-seeder seed: unknown option --prefetch-lst; did you mean --prefetch-list? (see seed --help)\n", own.err());
    Cli.Result value = Cli.run("prefetch", "tiny", "--cache-dir");
    assertEquals(2, value.code());
    assertEquals("pullmesh-seeder prefetch: --cache-dir needs a value: --cache-dir DIR\n", value.err());
    Cli.Result twice = Cli.run("prefetch", "tiny", "--every", "1h", "--every=2h");
    assertEquals("pullmesh-seeder prefetch: --every given twice\n", twice.err());
    Cli.Result host = Cli.run("import", "dir", "--registry-host", "not a host");
    assertTrue(host.err().contains("--registry-host: 'not a host' is not a host name"), host.toString());
  }

  @Test
  void aNodeCommandsHelpHasItsOwnOptionsThenEveryProxyOption() {
    Cli.Result r = Cli.run("seed", "--help");
    assertEquals(0, r.code(), r.toString());
    int own = r.out().indexOf("--prefetch-list FILE");
    int proxy = r.out().indexOf("Options (each also as an environment variable, and as a key in the --config file):");
    assertTrue(own > 0 && proxy > own, r.out());
    for (ProxyConfig.Option o : ProxyConfig.Option.values()) {
      assertTrue(r.out().indexOf(o.flag() + " " + o.arg(), proxy) > 0 && r.out().contains(o.env()), o.flag());
    }
    assertEquals(-1, r.out().indexOf("--prefetch-list", proxy), "its own options are not repeated among the proxy's");
  }
}
