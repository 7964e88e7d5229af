package io.pullmesh.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ReferenceTest {
  @Test
  void tagAndDigest() {
    Reference tag = Reference.parse("7b");
    assertFalse(tag.isDigest());
    assertEquals("7b", tag.tag().orElseThrow());
    Reference dig = Reference.parse("sha256:" + DigestTest.HEX);
    assertTrue(dig.isDigest());
    assertEquals(DigestTest.HEX, dig.digest().orElseThrow().hex());
    assertEquals("sha256:" + DigestTest.HEX, dig.toString());
  }

  @ParameterizedTest
  @ValueSource(strings = {"latest", "7b", "1.5b-instruct-q4_K_M", "_x", "Mixed.Case-Tag_1"})
  void acceptsTags(String t) {
    assertEquals(t, Reference.parse(t).toString());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", ".x", "-x", "a/b", "a b", "sha256:abc", "md5:00000000000000000000000000000000", ".."})
  void refusesBad(String t) {
    assertThrows(IllegalArgumentException.class, () -> Reference.parse(t));
  }

  @Test
  void tagLengthLimit() {
    assertEquals(128, Reference.parse("a".repeat(128)).toString().length());
    assertThrows(IllegalArgumentException.class, () -> Reference.parse("a".repeat(129)));
  }
}
