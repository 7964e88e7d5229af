package io.pullmesh.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class BytesTest {
  @ParameterizedTest
  @CsvSource({"0, 0", "4096, 4096", "512k, 524288", "4MiB, 4194304", "1.5g, 1610612736", "2 GB, 2147483648", "1t, 1099511627776"})
  void parses(String text, long expected) {
    assertEquals(expected, Bytes.parse(text));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "x", "-1", "4 parsecs", "1..2m"})
  void refuses(String text) {
    assertThrows(IllegalArgumentException.class, () -> Bytes.parse(text));
  }

  @Test
  void human() {
    assertEquals("512 B", Bytes.human(512));
    assertEquals("1.5 KiB", Bytes.human(1536));
    assertEquals("256.0 MiB", Bytes.human(256L << 20));
  }
}
