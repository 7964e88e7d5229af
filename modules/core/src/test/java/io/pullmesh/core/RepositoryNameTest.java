package io.pullmesh.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RepositoryNameTest {
  @ParameterizedTest
  @ValueSource(strings = {"library/qwen2.5", "library/llama3.2", "a/b/c", "x", "team/default", "hf.co/bartowski/llama-3.2-1b-gguf", "a_b/c-d"})
  void acceptsValid(String name) {
    assertEquals(name, RepositoryName.parse(name).value());
  }

  @Test
  void ollamaNamesAreKeyedInLowerCaseButKeepTheirSpellingForUpstream() {
    RepositoryName n = RepositoryName.parse("Library/Qwen2.5");
    assertEquals(RepositoryName.parse("library/qwen2.5"), n);
    assertEquals("library/qwen2.5", n.value());
    assertEquals("Library/Qwen2.5", n.spelled());
    assertNull(n.host());
  }

  @Test
  void regressionAHuggingFaceNameKeepsItsCapitalsInTheCacheKeyNotOnlyUpstream() {
    // bartowski/tiny-GGUF was asked for upstream as bartowski/tiny-gguf and got 404 (issue 15)
    RepositoryName n = RepositoryName.parse("HF.co/bartowski/Llama-3.2-1B-Instruct-GGUF");
    assertEquals("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF", n.value());
    assertEquals("hf.co", n.host());
    assertNotEquals(RepositoryName.parse("hf.co/bartowski/llama-3.2-1b-instruct-gguf"), n);
    assertEquals("bartowski/Llama-3.2-1B-Instruct-GGUF", n.withoutHost().spelled());
  }

  @Test
  void aDottedFirstComponentOfATwoComponentNameIsNotAHost() {
    assertNull(RepositoryName.parse("qwen2.5/Model").host());
    assertEquals("qwen2.5/model", RepositoryName.parse("qwen2.5/Model").value());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "/a", "a/", "a//b", "../etc", "a/../b", "a/./b", ".hidden/x", "-x/y", "a b/c", "a%2Fb", "a\\b", "ü/x", "a:b"})
  void refusesInvalid(String name) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RepositoryName.parse(name));
    assertTrue(e.getMessage().startsWith("repository name:"), e.getMessage());
  }

  @Test
  void refusesTooLong() {
    assertThrows(IllegalArgumentException.class, () -> RepositoryName.parse("a".repeat(100) + "/" + "b".repeat(100) + "/" + "c".repeat(60)));
  }
}
