package io.pullmesh.proxy.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The admin CLI's pieces that need no server: progress lines, tables, human units, argument parsing. */
class CliFormatTest {
  private static final long SECOND = 1_000_000_000L;

  @Test
  void progressLineShowsPercentSizesRateAndEta() {
    String l = ProgressDisplay.line("library/tiny:latest", 3L << 20, 12L << 20, 1L << 20);
    assertEquals("library/tiny:latest  [======>                 ]   25%  3.0 MiB / 12.0 MiB  1.0 MiB/s  ETA 9s", l);
    assertEquals("x  [========================]  100%  4.0 KiB / 4.0 KiB  -- B/s  ETA 0s", ProgressDisplay.line("x", 4096, 4096, 0));
    assertEquals("x  [                        ]   --%  0 B / ?  -- B/s  ETA --", ProgressDisplay.line("x", 0, 0, 0));
    assertTrue(ProgressDisplay.line("x", 1, 10L << 30, 1).endsWith("ETA >99h"), ProgressDisplay.line("x", 1, 10L << 30, 1));
  }

  @Test
  void onATerminalTheBarIsRedrawnInPlace() {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    AtomicLong now = new AtomicLong();
    ProgressDisplay d = new ProgressDisplay(new PrintStream(buf, true, StandardCharsets.UTF_8), true, now::get, 2 * SECOND);
    d.update("model", 1L << 20, 4L << 20, 0);
    now.addAndGet(SECOND / 10);
    d.update("m", 2L << 20, 4L << 20, 0);
    d.done("m", 4L << 20, 4L << 20, 0);
    String out = buf.toString(StandardCharsets.UTF_8);
    String[] draws = out.split("\r", -1);
    assertEquals("", draws[0], "every draw starts with a carriage return");
    assertEquals(4, draws.length, out);
    assertTrue(draws[1].startsWith("model  [======>"), draws[1]);
    // the shorter label leaves the previous line's tail blanked out
    assertEquals(draws[1].length(), draws[2].length(), "padded to the previous width: " + out);
    assertTrue(draws[2].startsWith("m  [============>"), draws[2]);
    assertTrue(draws[3].contains("100%") && draws[3].endsWith("\n"), draws[3]);
    assertFalse(out.substring(0, out.length() - 1).contains("\n"), "one line, redrawn: " + out);
  }

  @Test
  void elsewhereAPlainLineIsPrintedEveryFewSeconds() {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    AtomicLong now = new AtomicLong();
    ProgressDisplay d = new ProgressDisplay(new PrintStream(buf, true, StandardCharsets.UTF_8), false, now::get, 2 * SECOND);
    for (int i = 1; i <= 10; i++) {
      d.update("model", i * 100L, 1000, 0);
      now.addAndGet(SECOND / 2);
    }
    d.done("model", 1000, 1000, 0);
    String out = buf.toString(StandardCharsets.UTF_8);
    assertFalse(out.contains("\r"), out);
    String[] lines = out.split("\n");
    // first at once, then every 2 s of the 5 s, then the final state
    assertEquals(4, lines.length, out);
    assertTrue(lines[0].contains(" 10%"), lines[0]);
    assertTrue(lines[1].contains(" 50%"), lines[1]);
    assertTrue(lines[2].contains(" 90%"), lines[2]);
    assertTrue(lines[3].contains("100%"), lines[3]);
    // the rate seen so far stands in when the server reports none: 100 B per 0.5 s
    assertTrue(lines[2].contains("200 B/s"), lines[2]);
  }

  @Test
  void tablesAreAlignedWithNumbersOnTheRight() {
    String t = new Table("NAME", ">SIZE", "PINNED").row("library/tiny:latest", "3.0 MiB", "no").row("a:b", "97 B", "yes").render();
    assertEquals("""
        NAME                    SIZE  PINNED
        library/tiny:latest  3.0 MiB  no
        a:b                     97 B  yes
        """, t);
    assertThrows(IllegalArgumentException.class, () -> new Table("A", "B").row("only one"));
  }

  @Test
  void humanTimesAndCounts() {
    long now = 1_000_000_000_000L;
    assertEquals("never", Human.ago(0, now));
    assertEquals("just now", Human.ago(now - 500, now));
    assertEquals("just now", Human.ago(now + 5_000, now), "a clock ahead of ours");
    assertEquals("42 s ago", Human.ago(now - 42_000, now));
    assertEquals("3 min ago", Human.ago(now - 200_000, now));
    assertEquals("5 h ago", Human.ago(now - 5 * 3_600_000L - 1, now));
    assertEquals("3 days ago", Human.ago(now - 3 * 86_400_000L, now));
    assertEquals("59s", Human.duration(59));
    assertEquals("3m05s", Human.duration(185));
    assertEquals("2h07m", Human.duration(2 * 3600 + 7 * 60 + 5));
    assertEquals("1 blob", Human.count(1, "blob"));
    assertEquals("0 aliases", Human.count(0, "alias", "aliases"));
    assertEquals("sha256:0123456789ab", Human.shortDigest("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
  }

  @Test
  void optionsGoAnywhereAndComeFromTheEnvironmentToo() {
    AdminCli.Invocation i = AdminCli.parse(new String[] {"--json", "pin", "--url=http://10.0.0.5:9200", "qwen2.5:7b"},
        Map.of("PULLMESH_ADMIN_TOKEN", "from-env-token-0123"));
    assertEquals("pin", i.command());
    assertEquals(java.util.List.of("qwen2.5:7b"), i.args());
    assertEquals("http://10.0.0.5:9200", i.url().toString());
    assertEquals("from-env-token-0123", i.token());
    assertTrue(i.json());

    AdminCli.Invocation d = AdminCli.parse(new String[] {"stats"}, Map.of("PULLMESH_ADMIN_URL", "http://node-2:9200"));
    assertEquals("http://node-2:9200", d.url().toString());
    assertEquals(null, d.token());
    assertEquals(AdminCli.DEFAULT_URL, AdminCli.parse(new String[] {"stats"}, Map.of()).url().toString());
    AdminCli.Invocation flagWins = AdminCli.parse(new String[] {"stats", "--token", "flag-token-0123456"},
        Map.of("PULLMESH_ADMIN_TOKEN", "env-token-0123456"));
    assertEquals("flag-token-0123456", flagWins.token());

    assertEquals("--url needs a value (see admin --help)", usageError("stats", "--url"));
    assertTrue(usageError("stats", "--verbose").contains("unknown option --verbose"));
    assertTrue(usageError("stats", "--url", "ftp://x").contains("--url 'ftp://x' is not valid"));
    assertTrue(usageError("stats", "--url", "not a url").contains("is not valid"));
    assertTrue(usageError().startsWith("which command?"));
    assertTrue(AdminCli.parse(new String[] {"help"}, Map.of()).help());
    assertEquals("help", AdminCli.parse(new String[] {"pin", "help"}, Map.of()).args().get(0), "a model may be called help");
  }

  private static String usageError(String... args) {
    CliException e = assertThrows(CliException.class, () -> AdminCli.parse(args, Map.of()));
    assertEquals(CliException.USAGE, e.exitCode());
    return e.getMessage();
  }

  @Test
  void serverRefusalsKeepTheServersMessageAndMapToExitCodes() {
    CliException unauthorized = AdminClient.refused(401,
        "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"this change needs Authorization: Bearer <admin token>\"}]}");
    assertEquals("401 UNAUTHORIZED: this change needs Authorization: Bearer <admin token>", unauthorized.getMessage());
    assertEquals(2, unauthorized.exitCode());
    assertEquals(2, AdminClient.refused(400, "{\"errors\":[{\"code\":\"NAME_INVALID\",\"message\":\"m\"}]}").exitCode());
    assertEquals(2, AdminClient.refused(403, "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"m\"}]}").exitCode());
    assertEquals(1, AdminClient.refused(409, "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"pinned\"}]}").exitCode());
    assertEquals(1, AdminClient.refused(404, "{\"errors\":[{\"code\":\"NOT_FOUND\",\"message\":\"m\"}]}").exitCode());
    CliException gateway = AdminClient.refused(502, "<html>Bad Gateway</html>\n");
    assertEquals("502 <html>Bad Gateway</html>", gateway.getMessage());
    assertEquals(1, gateway.exitCode());
    assertEquals("503 (no message)", AdminClient.refused(503, "").getMessage());
  }
}
