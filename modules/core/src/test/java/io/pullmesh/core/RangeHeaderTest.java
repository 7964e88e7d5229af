package io.pullmesh.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.pullmesh.core.RangeHeader.Invalid;
import io.pullmesh.core.RangeHeader.Partial;
import io.pullmesh.core.RangeHeader.Unsatisfiable;
import io.pullmesh.core.RangeHeader.Whole;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class RangeHeaderTest {
  static final long SIZE = 1000;

  private static List<ByteRange> partial(String header, long size) {
    return assertInstanceOf(Partial.class, RangeHeader.evaluate(header, size)).ranges();
  }

  @Test
  void absentOrOtherUnitMeansWhole() {
    assertInstanceOf(Whole.class, RangeHeader.evaluate(null, SIZE));
    assertInstanceOf(Whole.class, RangeHeader.evaluate("  ", SIZE));
    assertInstanceOf(Whole.class, RangeHeader.evaluate("items=0-5", SIZE));
  }

  @ParameterizedTest
  @CsvSource({
      "bytes=0-99, 0, 99",
      "bytes=0-0, 0, 0",
      "bytes=100-, 100, 999",
      "bytes=-100, 900, 999",
      "bytes=-5000, 0, 999",
      "bytes=990-5000, 990, 999",
      "bytes=999-999, 999, 999",
      "BYTES = 5-9 , 5, 9",
      "bytes=0-, 0, 999"})
  void singleRanges(String header, long first, long last) {
    assertEquals(List.of(new ByteRange(first, last)), partial(header, SIZE));
  }

  @ParameterizedTest
  @ValueSource(strings = {"bytes=1000-", "bytes=1000-2000", "bytes=-0", "bytes=5000-5001, 2000-"})
  void unsatisfiable(String header) {
    assertInstanceOf(Unsatisfiable.class, RangeHeader.evaluate(header, SIZE));
  }

  @Test
  void emptyResourceIsNeverSatisfiable() {
    assertInstanceOf(Unsatisfiable.class, RangeHeader.evaluate("bytes=0-", 0));
    assertInstanceOf(Unsatisfiable.class, RangeHeader.evaluate("bytes=-1", 0));
  }

  @ParameterizedTest
  @ValueSource(strings = {"bytes", "bytes=", "bytes=abc", "bytes=5-1", "bytes=-", "bytes=1-2-3", "bytes=+1-2", "bytes=0x1-2",
      "bytes=99999999999999999999-", "bytes=0-1,", "bytes=,0-1"})
  void invalidIsRefusedNotIgnored(String header) {
    assertInstanceOf(Invalid.class, RangeHeader.evaluate(header, SIZE));
  }

  @Test
  void tooManyRangesRefused() {
    String many = "bytes=" + "0-0,".repeat(RangeHeader.MAX_RANGES) + "0-0";
    assertInstanceOf(Invalid.class, RangeHeader.evaluate(many, SIZE));
  }

  @Test
  void multipleRangesKeepOrderWhenDisjoint() {
    assertEquals(List.of(new ByteRange(500, 599), new ByteRange(0, 9)), partial("bytes=500-599,0-9", SIZE));
  }

  @Test
  void overlappingAndAdjacentRangesCoalesce() {
    assertEquals(List.of(new ByteRange(0, 19), new ByteRange(900, 999)), partial("bytes=-100,10-19,0-9,5-12", SIZE));
  }

  @Test
  void unsatisfiablePartsAreDropped() {
    assertEquals(List.of(new ByteRange(0, 9)), partial("bytes=2000-3000,0-9", SIZE));
  }

  @Test
  void rejectsNegativeSize() {
    assertThrows(IllegalArgumentException.class, () -> RangeHeader.evaluate("bytes=0-1", -1));
  }

  @Test
  void byteRangeHeaders() {
    ByteRange r = new ByteRange(10, 19);
    assertEquals(10, r.length());
    assertEquals("bytes 10-19/100", r.contentRange(100));
    assertEquals("bytes=10-19", r.rangeHeader());
    assertEquals(r, ByteRange.ofLength(10, 10));
    assertThrows(IllegalArgumentException.class, () -> new ByteRange(5, 4));
    assertThrows(IllegalArgumentException.class, () -> new ByteRange(-1, 4));
  }
}
