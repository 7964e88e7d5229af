package io.pullmesh.seeder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Model names as Ollama writes them, prefetch list files, and how a node command's arguments are split. */
class NamesTest {
  @Test
  void namesAreReadAsOllamaReadsThem() {
    ModelName q = ModelName.parse("qwen2.5:7b");
    assertEquals("library/qwen2.5", q.repository().value());
    assertEquals("7b", q.tag());
    assertEquals("qwen2.5:7b", q.toString());
    assertEquals("library", q.namespace());
    assertEquals("qwen2.5", q.model());

    ModelName u = ModelName.parse("someone/model");
    assertEquals("someone/model", u.repository().value());
    assertEquals("latest", u.tag());
    assertEquals("someone/model:latest", u.toString());

    assertEquals(q, ModelName.parse("registry.ollama.ai/library/qwen2.5:7b"));
    assertEquals(q, ModelName.parse("mirror.lan:9200/library/qwen2.5:7b", "mirror.lan:9200"));
    assertEquals("library/llama3", ModelName.parse("Llama3").repository().value(), "names are case-insensitive");

    ModelName hf = ModelName.parse("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M");
    assertEquals("hf.co", hf.host());
    assertEquals("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF", hf.repository().value(), "a registry host's name keeps its capitals");
    assertEquals("bartowski", hf.namespace());
    assertEquals("Llama-3.2-1B-Instruct-GGUF", hf.model());
    assertEquals("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", hf.toString());

    String[][] bad = {{"", "empty model name"}, {"qwen@sha256:" + "a".repeat(64), "names a digest"},
        {"mirror:9200/library/x:1", "names the registry mirror:9200"}, {"a/b/c/d", "too many '/'"}, {"bad name", "not a valid model name"},
        {"x:-tag", "invalid tag"}};
    for (String[] b : bad) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelName.parse(b[0]));
      assertTrue(e.getMessage().contains(b[1]), b[0] + ": " + e.getMessage());
    }
  }

  @Test
  void listFilesSkipCommentsAndBlankLines() {
    List<ListFile.Entry> e = ListFile.parse(List.of("# models for the office", "", "qwen2.5:7b", "  llama3.2   # small", "\t", "#x", "a/b:c"));
    assertEquals(List.of(new ListFile.Entry("qwen2.5:7b", 3), new ListFile.Entry("llama3.2", 4), new ListFile.Entry("a/b:c", 7)), e);
  }

  @Test
  void nodeArgumentsSplitIntoOwnOptionsOperandsAndProxyOptions() throws Exception {
    NodeArgs a = NodeArgs.split(new String[] {"qwen", "--cache-dir", "/c", "--every=24h", "llama", "--upstream=http://u", "--list", "f",
        "--listen", "127.0.0.1:0"}, Set.of("list", "every", "at"));
    assertEquals(List.of("qwen", "llama"), a.operands);
    assertEquals("24h", a.own.get("every"));
    assertEquals("f", a.own.get("list"));
    assertEquals(List.of("--cache-dir", "/c", "--upstream=http://u", "--listen", "127.0.0.1:0"), a.proxyArgs);
    assertTrue(a.hasProxyOption("listen") && a.hasProxyOption("upstream"));
    UsageException e = assertThrows(UsageException.class, () -> NodeArgs.split(new String[] {"--every"}, Set.of("every")));
    assertTrue(e.getMessage().contains("--every needs a value"));
  }

  @Test
  void topLevelUsage() {
    Cli.Result none = Cli.run();
    assertEquals(2, none.code());
    assertTrue(none.err().contains("Commands:") && none.err().contains("seed") && none.err().contains("export"), none.toString());
    Cli.Result help = Cli.run("--help");
    assertEquals(0, help.code());
    assertTrue(help.out().contains("prefetch") && help.out().contains("import"), help.toString());
    Cli.Result unknown = Cli.run("serve");
    assertEquals(2, unknown.code());
    assertTrue(unknown.err().contains("unknown command 'serve'"), unknown.toString());
    for (String c : List.of("import", "export")) {
      Cli.Result r = Cli.run(c, "--help");
      assertEquals(0, r.code(), r.toString());
      assertTrue(r.out().contains("Usage: java -jar pullmesh-seeder.jar " + c) && r.out().contains("--cache-dir DIR"), r.toString());
    }
  }
}
