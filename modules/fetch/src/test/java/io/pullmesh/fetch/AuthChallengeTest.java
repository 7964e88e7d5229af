package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class AuthChallengeTest {
  @Test
  void bearer() {
    AuthChallenge c = AuthChallenge.parse("Bearer realm=\"https://ollama.com:443/token\",service=\"ollama.com\",scope=\"repository:library/qwen2.5:pull\"").orElseThrow();
    assertTrue(c.isBearer());
    assertEquals("https://ollama.com:443/token", c.param("realm").orElseThrow());
    assertEquals("ollama.com", c.param("service").orElseThrow());
    assertEquals("repository:library/qwen2.5:pull", c.param("scope").orElseThrow());
  }

  @Test
  void basicAndUnquotedAndEscapes() {
    AuthChallenge b = AuthChallenge.parse("Basic realm=Registry").orElseThrow();
    assertTrue(b.isBasic());
    assertEquals("Registry", b.param("realm").orElseThrow());
    AuthChallenge e = AuthChallenge.parse("bearer Realm=\"a\\\"b\", scope=x").orElseThrow();
    assertTrue(e.isBearer());
    assertEquals("a\"b", e.param("realm").orElseThrow());
    assertEquals("x", e.param("scope").orElseThrow());
  }

  @Test
  void nonsense() {
    assertFalse(AuthChallenge.parse(null).isPresent());
    assertFalse(AuthChallenge.parse("").isPresent());
    assertFalse(AuthChallenge.parse("realm=x").isPresent());
  }
}
