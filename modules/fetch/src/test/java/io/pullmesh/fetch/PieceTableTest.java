package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pullmesh.core.ByteRange;
import io.pullmesh.core.Digest;
import io.pullmesh.core.PieceLayout;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.store.PartialRecord;
import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.Test;

class PieceTableTest {
  /** Four pieces of 100 bytes and a last one of 50. */
  private final PieceTable table = new PieceTable(this, new PieceLayout(450, 100));
  private final Source peer = new Source.Peer("b");

  private PieceTable.Arrival wrote(long pos, int len, Source s) {
    synchronized (this) {
      return table.wrote(pos, len, s);
    }
  }

  @Test
  void aPieceWrittenInFullIsDoneAtOnceWhenNoChecksAreRequired() {
    PieceTable.Arrival a = wrote(0, 100, Source.UPSTREAM);
    assertTrue(a.newlyDone());
    assertTrue(a.toCheck().isEmpty());
    assertTrue(table.isDone(0));
    assertEquals(100, table.donePrefix());
  }

  @Test
  void withChecksRequiredAFullPieceWaitsForItsCheckAndIsNotReadable() {
    synchronized (this) {
      table.requireChecks();
    }
    PieceTable.Arrival a = wrote(0, 100, peer);
    assertFalse(a.newlyDone());
    assertEquals(List.of(0), a.toCheck());
    assertTrue(table.isChecking(0));
    assertEquals(0, table.availableAt(0), "unchecked bytes are not served");
    synchronized (this) {
      assertEquals(0, table.checked(0, true));
    }
    assertTrue(table.isDone(0));
    assertEquals(100, table.availableAt(0));
  }

  @Test
  void aPieceThatFailsItsCheckIsEmptiedGivenBackAndCountedAsATry() {
    synchronized (this) {
      table.requireChecks();
      table.take(1);
    }
    wrote(100, 100, peer);
    assertEquals("b", table.peerOf(1));
    synchronized (this) {
      assertEquals(1, table.checked(1, false));
    }
    assertFalse(table.isTaken(1));
    assertEquals(100, table.nextByte(1), "it starts again from its first byte");
    assertNull(table.peerOf(1));
  }

  @Test
  void bytesOfOnePieceFromTwoSourcesHaveAMixedOrigin() {
    wrote(0, 40, peer);
    wrote(40, 60, Source.UPSTREAM);
    assertTrue(table.mixedOrigin(0));
    assertNull(table.peerOf(0));
  }

  @Test
  void aWriteThatDoesNotContinueAPiecesPrefixDoesNotExtendIt() {
    wrote(50, 10, Source.UPSTREAM);
    assertEquals(0, table.bytesDone());
    assertEquals(0, table.nextByte(0));
  }

  @Test
  void readableBytesRunAcrossFullPiecesUpToTheFirstGap() {
    wrote(0, 100, Source.UPSTREAM);
    wrote(100, 100, Source.UPSTREAM);
    wrote(200, 30, Source.UPSTREAM);
    assertEquals(230, table.availableAt(0));
    assertEquals(80, table.availableAt(150));
    assertEquals(0, table.availableAt(230));
  }

  @Test
  void aFailedTryThatWroteBytesStartsTheCountAgain() {
    synchronized (this) {
      assertEquals(1, table.failedTry(2, false));
      assertEquals(2, table.failedTry(2, false));
      assertEquals(1, table.failedTry(2, true));
    }
  }

  @Test
  void aResumedTableTakesTheRecordedPiecesAndPrefixes() {
    BitSet done = new BitSet();
    done.set(1);
    PartialRecord had = new PartialRecord(Digest.of(new byte[0]), RepositoryName.parse("library/t"), 450, 100, done, 0,
        new int[] {40, 0, 0, 0, 0});
    synchronized (this) {
      table.resume(had);
    }
    assertTrue(table.isDone(1));
    assertTrue(table.isTaken(1));
    assertEquals(40, table.nextByte(0));
    assertEquals(140, table.bytesDone());
    assertEquals(List.of(new ByteRange(40, 99), new ByteRange(200, 299), new ByteRange(300, 399), new ByteRange(400, 449)),
        table.missingRanges());
    assertEquals(40, table.prefixesOfUnfinished()[0]);
    assertEquals(0, table.prefixesOfUnfinished()[1], "a done piece records no prefix");
  }

  @Test
  void changingTheTableWithoutItsDownloadsLockIsRefused() {
    assertThrows(AssertionError.class, () -> table.take(0), "run with -ea, as surefire does");
  }
}
