package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class ContentRangeTest {
  @Test
  void aPartialAnswerSaysItsRangeAndTheBlobsSize() {
    assertEquals(Optional.of(new ContentRange(0, 0, 4096)), ContentRange.of("bytes 0-0/4096"));
    assertEquals(Optional.of(new ContentRange(100, 199, -1)), ContentRange.of("bytes  100-199/*"), "an unknown total is -1");
  }

  @Test
  void aMissingOrOddHeaderIsNoRange() {
    assertEquals(Optional.empty(), ContentRange.of(null));
    assertEquals(Optional.empty(), ContentRange.of("bytes */4096"));
    assertEquals(Optional.empty(), ContentRange.of("items 0-1/2"));
  }

  @Test
  void anAnswerIsTheRangeAskedOnlyWhenBothEndsAndAnyGivenSizeAgree() {
    ContentRange r = ContentRange.of("bytes 10-19/100").orElseThrow();
    assertTrue(r.is(10, 19, 100));
    assertFalse(r.is(10, 20, 100));
    assertFalse(r.is(10, 19, 101), "the blob is not the size it was located at");
    assertTrue(ContentRange.of("bytes 10-19/*").orElseThrow().is(10, 19, 100), "no total: the ends decide");
  }

  @Test
  void anUnsatisfiedRangeGivesTheSizeAlone() {
    assertEquals(OptionalLong.of(0), ContentRange.unsatisfiedSize("bytes */0"));
    assertEquals(OptionalLong.empty(), ContentRange.unsatisfiedSize("bytes 0-0/1"));
    assertEquals(OptionalLong.empty(), ContentRange.unsatisfiedSize(null));
  }
}
