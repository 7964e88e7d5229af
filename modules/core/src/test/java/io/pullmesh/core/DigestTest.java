package io.pullmesh.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.MessageDigest;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullSource;
import org.junit.jupiter.params.provider.ValueSource;

class DigestTest {
  static final String HEX = "6a0746a1ec1aef3e7ec53868f220ff6e389f6f8ef87a01d77c96807de94ca2aa";

  @Test
  void parsesAndPrints() {
    Digest d = Digest.parse("sha256:" + HEX);
    assertEquals(HEX, d.hex());
    assertEquals("sha256:" + HEX, d.toString());
    assertEquals("6a0746a1ec1a", d.shortHex());
    assertEquals(d, Digest.ofHex(HEX));
    assertEquals(d.hashCode(), Digest.ofHex(HEX).hashCode());
  }

  @Test
  void ofBytesMatchesMessageDigest() throws Exception {
    byte[] sum = MessageDigest.getInstance("SHA-256").digest("hello".getBytes(StandardCharsets.UTF_8));
    assertEquals("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", Digest.ofBytes(sum).toString());
    assertThrows(IllegalArgumentException.class, () -> Digest.ofBytes(new byte[31]));
  }

  @ParameterizedTest
  @NullSource
  @ValueSource(strings = {
      "", "sha256:", "sha256:abc", "sha512:" + HEX, "SHA256:" + HEX,
      "sha256:6A0746A1EC1AEF3E7EC53868F220FF6E389F6F8EF87A01D77C96807DE94CA2AA",
      "sha256:" + HEX + "0", "sha256:../../etc/passwd", "sha256:ga0746a1ec1aef3e7ec53868f220ff6e389f6f8ef87a01d77c96807de94ca2aa",
      "sha256-" + HEX, HEX})
  void refusesMalformed(String bad) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Digest.parse(bad));
    assertTrue(e.getMessage().contains("expected: sha256:<64 lowercase hex>"), e.getMessage());
    assertFalse(Digest.isValid(bad));
  }

  @Test
  void messageQuotesControlCharacters() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Digest.parse("sha256:\n"));
    assertTrue(e.getMessage().contains("\\u000a"), e.getMessage());
  }

  @Test
  void ofHexRefusesNonHex() {
    assertThrows(IllegalArgumentException.class, () -> Digest.ofHex("xyz"));
    assertThrows(IllegalArgumentException.class, () -> Digest.ofHex(null));
  }
}
