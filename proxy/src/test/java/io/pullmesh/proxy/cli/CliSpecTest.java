package io.pullmesh.proxy.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/** What every command line shares: options from definitions, values with environment defaults, errors in our words, layout. */
class CliSpecTest {
  private static final OptionDef DIR = new OptionDef.Basic("cache-dir", "DIR", "the cache", null, "PULLMESH_CACHE_DIR");
  private static final OptionDef URL = new OptionDef.Basic("url", "URL", "the proxy", "http://127.0.0.1:9200", "PULLMESH_ADMIN_URL");
  private static final OptionDef JSON = OptionDef.of("json", null, "JSON");

  private static CommandSpec spec(boolean words) {
    CommandSpec spec = CliSpec.command("test");
    for (OptionDef d : List.of(DIR, URL, JSON)) {
      spec.addOption(CliSpec.option(d));
    }
    spec.addOption(CliSpec.helpOption());
    if (words) {
      spec.addPositional(CliSpec.words());
    }
    return spec;
  }

  private static CliSpec.Failure failure(boolean words, String... args) {
    return CliSpec.failure(assertThrows(ParameterException.class, () -> CliSpec.parse(spec(words), args)));
  }

  @Test
  void valuesComeFromTheCommandLineThenTheEnvironmentThenTheDefault() {
    CommandSpec spec = spec(true);
    ParseResult r = CliSpec.parse(spec, "--cache-dir=/c", "word", "--json", "other");
    assertEquals("/c", CliSpec.value(r, DIR, Map.of("PULLMESH_CACHE_DIR", "/env")));
    assertEquals("true", CliSpec.value(r, JSON));
    assertEquals(List.of("word", "other"), CliSpec.positionals(spec));
    ParseResult none = CliSpec.parse(spec(false));
    assertEquals("/env", CliSpec.value(none, DIR, Map.of("PULLMESH_CACHE_DIR", "/env")));
    assertNull(CliSpec.value(none, DIR, Map.of("PULLMESH_CACHE_DIR", " ")), "a blank variable is no value");
    assertEquals("http://127.0.0.1:9200", CliSpec.value(none, URL, Map.of()));
    assertNull(CliSpec.value(none, JSON));
  }

  @Test
  void parseErrorsInOurWords() {
    assertEquals("unknown option --cache-di; did you mean --cache-dir?", failure(true, "--cache-di", "x").text());
    assertEquals("unknown option --bogus", failure(true, "--bogus").text());
    assertEquals("--cache-dir needs a value", failure(true, "--cache-dir").text());
    assertEquals("--cache-dir needs a value", failure(true, "--cache-dir", "--json").text(), "an option is not a value");
    assertEquals("--cache-dir needs a value", failure(true, "--cache-dir", "--bogus").text(), "nor is an unknown one");
    assertEquals("--url given twice", failure(true, "--url", "a", "--url=b").text());
    assertEquals("unexpected argument 'extra'", failure(false, "extra").text());
    assertEquals(CliSpec.Failure.Kind.UNKNOWN_OPTION, failure(false, "--url", "u", "--x=1").kind());
    // what picocli would otherwise do: expand @files, take abbreviations, interpolate ${...}
    ParseResult r = CliSpec.parse(spec(true), "@args", "--cache-dir", "${sys:user.home}");
    assertEquals("${sys:user.home}", CliSpec.value(r, DIR));
    assertEquals("unknown option --cache", failure(true, "--cache", "x").text());
    assertEquals("-x", CliSpec.value(CliSpec.parse(spec(true), "--url", "-x"), URL), "a value may start with one dash");
  }

  @Test
  void suggestionsAreLikelyTypos() {
    assertEquals("--listen", CliSpec.closestOption("--lisen", List.of("--listen", "--upstream", "-h")));
    assertNull(CliSpec.closestOption("--x", List.of("--listen", "-h")), "not a short option for a long one");
    assertNull(CliSpec.closest("frobnicate", List.of("stats", "models")));
    assertEquals("seed", CliSpec.closest("sed", List.of("seed", "prefetch")));
    assertEquals("", CliSpec.didYouMean(null));
  }

  @Test
  void usageListsOptionsAsTheyAreWrittenWithTheirVariables() {
    String usage = CliSpec.usage(spec(true));
    assertTrue(usage.contains("      --cache-dir DIR   the cache\n                        PULLMESH_CACHE_DIR\n"), usage);
    assertTrue(usage.contains("      --url URL         the proxy [default http://127.0.0.1:9200]\n"), usage);
    assertTrue(usage.contains("  -h, --help            print this help\n"), usage);
    assertTrue(!usage.contains("ARG"), "the collected words are not listed: " + usage);
  }

  @Test
  void longTextsWrapAtSpacesOnly() {
    List<String> lines = CliSpec.wrap("see https://registry.example/a/very/long/path/that/is/longer/than/the/line now", 20);
    assertEquals(List.of("see", "https://registry.example/a/very/long/path/that/is/longer/than/the/line", "now"), lines);
    String table = CliSpec.rows(List.<String[]>of(new String[] {"--a X", "one two three four five six", "ENV"},
        new String[] {"--a-very-long-option-name-indeed VALUE", "text"}), 30);
    assertEquals("  --a X   one two three four\n            five six\n          ENV\n"
        + "  --a-very-long-option-name-indeed VALUE\n          text\n", table);
  }
}
