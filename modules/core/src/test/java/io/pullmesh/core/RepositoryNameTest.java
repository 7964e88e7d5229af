package io.pullmesh.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RepositoryNameTest {
  @ParameterizedTest
  @ValueSource(strings = {"library/qwen2.5", "library/llama3.2", "a/b/c", "x", "team/default", "hf.co/bartowski/Llama-3.2-1B-GGUF", "a_b/c-d"})
  void acceptsValid(String name) {
    assertEquals(name.toLowerCase(), RepositoryName.parse(name).value());
  }

  @Test
  void lowerCases() {
    assertEquals(RepositoryName.parse("library/qwen2.5"), RepositoryName.parse("Library/Qwen2.5"));
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
