package io.pullmesh.proxy.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.proxy.ProxyConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The README's option table is the one the option definitions make, as {@code --help} is. */
class ConfigTableTest {
  private static final Path README = Path.of("..", "README.md");

  @Test
  void theReadmesOptionTableIsMadeFromTheDefinitions() throws Exception {
    String readme = Files.readString(README, StandardCharsets.UTF_8);
    assertEquals(OptionTable.markdown(), OptionTable.current(readme), "README.md's option table differs from ProxyConfig.Option's: "
        + "rewrite it with `java -cp proxy/target/pullmesh-proxy.jar io.pullmesh.proxy.cli.OptionTable README.md`");
  }

  @Test
  void everyOptionHasARowWithItsFlagVariableAndDefault() {
    String table = OptionTable.markdown();
    for (ProxyConfig.Option o : ProxyConfig.Option.values()) {
      String row = table.lines().filter(l -> l.startsWith("| `" + o.flag() + " ")).findFirst().orElseThrow(() -> new AssertionError(o.flag()));
      assertTrue(row.contains("| `" + o.env() + "` |"), row);
      if (o.defaultValue() != null && o.defaultValue().equals(o.defaultText())) {
        assertTrue(row.contains("| `" + o.defaultValue().replace("|", "\\|") + "` |"), row);
      }
    }
    assertTrue(table.contains("`--upstreams KEY=URL[;username=U;password-file=F;token-file=F;own-hosts=H\\|H],...`"), "pipes escaped");
    assertTrue(table.contains("serves corp/&lt;model&gt; from"), "no raw HTML in the text");
    assertTrue(table.contains("ollama/0.33.0 (&lt;arch&gt; &lt;os&gt;)"), "a default that depends on the machine is shown in words, the same anywhere");
  }

  @Test
  void rewritingReplacesOnlyTheTable() {
    String readme = "# x\n\nbefore\n" + OptionTable.BEGIN + "\n| old | table |\n" + OptionTable.END + "\nafter\n";
    String updated = OptionTable.updated(readme);
    assertEquals("# x\n\nbefore\n" + OptionTable.BEGIN + "\n" + OptionTable.markdown() + OptionTable.END + "\nafter\n", updated);
    assertEquals(updated, OptionTable.updated(updated));
  }
}
