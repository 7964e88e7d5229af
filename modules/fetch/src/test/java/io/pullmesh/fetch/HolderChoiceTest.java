package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class HolderChoiceTest {
  private static final int PIECE = 1 << 20;

  private static PeerNetwork.Holder partial(String node, int... pieces) {
    BitSet done = new BitSet();
    for (int p : pieces) {
      done.set(p);
    }
    return new PeerNetwork.Holder(node, PIECE, done);
  }

  private static long last(int piece) {
    return (long) piece * PIECE + PIECE - 1;
  }

  @Test
  void everyDownloaderAgreesOnEachPiecesRelay() {
    List<String> nodes = List.of("n1", "n2", "n3", "n4", "n5");
    for (int p = 0; p < 200; p++) {
      Set<String> relays = new HashSet<>();
      for (String self : nodes) {
        List<PeerNetwork.Holder> others = new ArrayList<>();
        others.add(partial("f"));
        nodes.stream().filter(n -> !n.equals(self)).map(HolderChoiceTest::partial).forEach(others::add);
        relays.add(HolderChoice.relay(self, others, "f", last(p)));
      }
      assertEquals(1, relays.size(), "piece " + p + ": " + relays);
    }
  }

  @Test
  void relaysShareThePiecesAboutEvenly() {
    List<PeerNetwork.Holder> others = new ArrayList<>(List.of(partial("f")));
    for (int i = 2; i <= 8; i++) {
      others.add(partial("n" + i));
    }
    Map<String, Integer> count = new HashMap<>();
    int pieces = 8000;
    for (int p = 0; p < pieces; p++) {
      count.merge(HolderChoice.relay("n1", others, "f", last(p)), 1, Integer::sum);
    }
    assertEquals(8, count.size(), "every downloader (this one too) but the fetcher relays some pieces: " + count);
    assertTrue(count.values().stream().allMatch(c -> c > 0.8 * pieces / 8 && c < 1.2 * pieces / 8), count.toString());
  }

  @Test
  void theFetcherAndCompleteHoldersAreNeverRelays() {
    List<PeerNetwork.Holder> others = List.of(partial("f"), new PeerNetwork.Holder("done", 0, null));
    for (int p = 0; p < 100; p++) {
      assertEquals("self", HolderChoice.relay("self", others, "f", last(p)));
    }
  }

  @Test
  void aNodeWaitsOnlyOnNodesThatRankAboveItSoChainsOfRelaysNeverLoop() {
    // views differ: a node sees only some of the others; whoever a node picks outranks it for the piece
    List<String> nodes = List.of("a", "b", "c", "d");
    for (int p = 0; p < 100; p++) {
      for (String self : nodes) {
        for (String seen : nodes) {
          String r = HolderChoice.relay(self, List.of(partial("f"), partial(seen)), "f", last(p));
          if (!r.equals(self)) {
            assertNotEquals(self, HolderChoice.relay(r, List.of(partial("f"), partial(self)), "f", last(p)),
                "piece " + p + ": " + self + " waits on " + r + ", which must not wait on " + self);
          }
        }
      }
    }
  }

  @Test
  void aHolderThatIsNotTheFetcherIsChosenOverTheFetcher() {
    List<PeerNetwork.Holder> holders = List.of(partial("f", 0), partial("c", 0));
    assertEquals("c", HolderChoice.holder("self", 0, last(0), holders, "f", n -> true));
  }

  @Test
  void onlyTheFetcherHavingTheBytesIsNoHolderChoice() {
    assertNull(HolderChoice.holder("self", 0, last(0), List.of(partial("f", 0), partial("c")), "f", n -> true));
  }

  @Test
  void differentNodesSpreadOverHoldersOfTheSamePiece() {
    List<PeerNetwork.Holder> holders = List.of(new PeerNetwork.Holder("a", 0, null), new PeerNetwork.Holder("b", 0, null),
        new PeerNetwork.Holder("c", 0, null));
    Set<String> chosen = new HashSet<>();
    for (int i = 0; i < 30; i++) {
      chosen.add(HolderChoice.holder("node" + i, 0, last(0), holders, null, n -> true));
    }
    assertEquals(Set.of("a", "b", "c"), chosen);
  }

  @Test
  void aHolderWithoutRoomIsPassedOver() {
    List<PeerNetwork.Holder> holders = List.of(new PeerNetwork.Holder("a", 0, null), new PeerNetwork.Holder("b", 0, null));
    String first = HolderChoice.holder("self", 0, last(0), holders, null, n -> true);
    String other = first.equals("a") ? "b" : "a";
    assertEquals(other, HolderChoice.holder("self", 0, last(0), holders, null, n -> !n.equals(first)));
  }

  @Test
  void aHolderThatCompletedTheBlobDoesNotDrawEveryNodesRequestsForAPiece() {
    // the fetcher, once it committed, is a complete holder like any other: no node prefers it for being idle
    List<PeerNetwork.Holder> holders = List.of(new PeerNetwork.Holder("done", 0, null), partial("a", 0), partial("b", 0), partial("c", 0));
    Map<String, Integer> count = new HashMap<>();
    for (int i = 0; i < 400; i++) {
      count.merge(HolderChoice.holder("node" + i, 0, last(0), holders, null, n -> true), 1, Integer::sum);
    }
    assertTrue(count.values().stream().allMatch(c -> c > 60 && c < 140), count.toString());
  }
}
