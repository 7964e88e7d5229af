package io.pullmesh.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The proxy's command line on picocli: what the hand-written parser did, and what came with picocli. */
class ProxyConfigCliTest {
  private static String error(Map<String, String> env, String... args) {
    return assertThrows(ConfigException.class, () -> ProxyConfig.parse(args, env)).getMessage();
  }

  private static String help(Map<String, String> env, String... args) {
    return assertInstanceOf(ProxyConfig.Help.class, ProxyConfig.parse(args, env)).text();
  }

  @Test
  void anOptionWithoutItsValueSaysWhatTheValueIs() {
    assertEquals("--cache-dir needs a value: --cache-dir DIR", error(Map.of(), "--cache-dir", "--listen", "127.0.0.1:0"));
    assertEquals("--upstreams needs a value: --upstreams KEY=URL[;username=U;password-file=F;token-file=F;own-hosts=H|H],...",
        error(Map.of(), "--upstreams"));
    assertEquals("--listen given twice", error(Map.of(), "--listen=1", "--listen", "2"));
    assertEquals("unknown option --no-such-flag (see --help)", error(Map.of(), "--no-such-flag", "--cache-dir", "/c"));
    assertEquals("unknown option -x (see --help)", error(Map.of(), "-x"));
  }

  @Test
  void aMistypedCommandIsNamed() {
    assertEquals("unexpected argument 'admn'; did you mean admin? (commands come first: serve, admin, verify, ca, completion; options "
        + "start with --; see --help)", error(Map.of(), "admn", "stats"));
    assertTrue(error(Map.of(), "--listen", ":0", "verify").startsWith("unexpected argument 'verify' (commands come first"));
  }

  @Test
  void helpAndVersionAnywhere() {
    for (String[] args : new String[][] {{"-h"}, {"help"}, {"--listen", ":0", "--help"}}) {
      assertTrue(help(Map.of(), args).startsWith("pullmesh proxy " + ProxyConfig.VERSION + ": "), String.join(" ", args));
    }
    assertEquals("pullmesh proxy " + ProxyConfig.VERSION, assertInstanceOf(ProxyConfig.Version.class,
        ProxyConfig.parse(new String[] {"-V"}, Map.of())).text());
  }

  @Test
  void helpShowsEveryCommandEveryOptionItsVariableAndDefault() {
    String help = help(Map.of("XDG_CACHE_HOME", "/var/cache/x"), "--help");
    for (String s : new String[] {"Usage: java -jar pullmesh-proxy.jar [serve] [options]\n",
        "       java -jar pullmesh-proxy.jar admin <command> [--url URL] [--token TOKEN] [--json]\n",
        "       java -jar pullmesh-proxy.jar verify [--cache-dir DIR]\n", "       java -jar pullmesh-proxy.jar ca print|rotate ",
        "       java -jar pullmesh-proxy.jar completion [bash|zsh]", "\nCommands:\n  serve       run the proxy (the default)\n",
        "\n  completion  print a bash or zsh completion script", "\nOptions (each also as an environment variable, and as a key in the "
            + "--config file):\n      --listen HOST:PORT             address to serve on [default 0.0.0.0:9200]\n"
            + "                                     PULLMESH_LISTEN\n",
        "--log-format text|json", "\n  -h, --help ", "\n  -V, --version ",
        "\n\nPull through it with:", "Exit codes: 0 ok"}) {
      assertTrue(help.contains(s), "--help has '" + s + "'\n" + help);
    }
    for (ProxyConfig.Option o : ProxyConfig.Option.values()) {
      assertTrue(help.contains(o.flag() + " " + o.arg) && help.contains(o.env()), o.flag());
      if (o.defaultText() != null && o != ProxyConfig.Option.CACHE_DIR) {
        String shown = help.replaceAll("\\s+", " ");
        assertTrue(shown.contains("[default " + o.defaultText() + "]"), o.flag() + "'s default");
      }
    }
    assertTrue(help.replaceAll("\\s+", " ").contains("where blobs and the index are kept [default /var/cache/x/pullmesh]"),
        "the cache directory the environment implies");
    assertTrue(help.lines().allMatch(l -> l.length() <= 100 || !l.strip().contains(" ")), "wrapped at 100 columns where it can be");
  }

  @Test
  void environmentVariablesWithATypoAreNamedWithTheLikelyOne() {
    var r = assertInstanceOf(ProxyConfig.Run.class, ProxyConfig.parse(new String[0], Map.of("PULLMESH_LOG_LEVLE", "debug")));
    assertEquals(1, r.warnings().size());
    assertTrue(r.warnings().get(0).startsWith("ignoring environment variable PULLMESH_LOG_LEVLE: the proxy does not know it; did you mean "
        + "PULLMESH_LOG_LEVEL? (known: PULLMESH_LISTEN, "), r.warnings().get(0));
  }

  @Test
  void theJarsCommandsAnswerHelpAndBadUsage() {
    for (String c : Main.COMMANDS) {
      CliRun.Result help = CliRun.run(c, "--help");
      assertEquals(0, help.exit(), c + ": " + help.err());
      assertTrue(help.out().contains("Usage: java -jar pullmesh-proxy.jar " + (c.equals("serve") ? "" : c)), c);
    }
    CliRun.Result typo = CliRun.run("ca", "print", "--ca-dri", "x");
    assertEquals(2, typo.exit());
    assertEquals("pullmesh ca: unknown option --ca-dri; did you mean --ca-dir? (see ca --help)\n", typo.err());
  }
}
