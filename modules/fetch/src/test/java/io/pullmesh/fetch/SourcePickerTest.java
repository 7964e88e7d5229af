package io.pullmesh.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.Test;

class SourcePickerTest {
  private final Lanes lanes = new Lanes(16, 2);
  private static final PeerNetwork.Holder COMPLETE_A = new PeerNetwork.Holder("a", 0, null);

  private static PeerNetwork.Holder partial(String node, int... pieces) {
    BitSet done = new BitSet();
    for (int p : pieces) {
      done.set(p);
    }
    return new PeerNetwork.Holder(node, 100, done);
  }

  @Test
  void aNodeAloneFetchesFromUpstreamOnceItLocatedTheBlob() {
    assertEquals(Source.UPSTREAM, SourcePicker.pick(0, 99, "self", List.of(), null, lanes, true, true));
    assertEquals(new Source.None(true), SourcePicker.pick(0, 99, "self", List.of(), null, lanes, true, false));
  }

  @Test
  void aPeerThatHoldsTheBytesComesBeforeUpstream() {
    assertEquals(new Source.Peer("a"), SourcePicker.pick(0, 99, "self", List.of(COMPLETE_A), null, lanes, true, true));
  }

  @Test
  void aHolderAtItsLaneLimitIsPassedOver() {
    lanes.acquire(new Source.Peer("a"));
    lanes.acquire(new Source.Peer("a"));
    assertEquals(Source.UPSTREAM, SourcePicker.pick(0, 99, "self", List.of(COMPLETE_A), null, lanes, true, true));
  }

  @Test
  void aPartialHolderServesOnlyTheRangesItHasWhole() {
    PeerNetwork.Holder c = partial("c", 0, 1);
    assertEquals(new Source.Peer("c"), SourcePicker.pick(50, 199, "self", List.of(c), null, lanes, true, true));
    assertEquals(Source.UPSTREAM, SourcePicker.pick(150, 299, "self", List.of(c), null, lanes, true, true));
  }

  @Test
  void aNodeThatDoesNotFetchStreamsWhatItLacksFromThePeerThatFetchesUpToTheWholeBudget() {
    PeerNetwork.Holder fetcher = partial("f");
    for (int i = 0; i < 5; i++) {
      lanes.acquire(new Source.Peer("f"));
    }
    assertEquals(new Source.Peer("f"), SourcePicker.pick(0, 99, "self", List.of(fetcher), "f", lanes, false, false),
        "past the per-peer limit: streaming from the fetcher is bounded by the download's budget only");
  }

  @Test
  void aHolderThatIsNotTheFetcherComesBeforeTheFetcher() {
    PeerNetwork.Holder fetcher = partial("f", 0);
    PeerNetwork.Holder other = partial("c", 0);
    assertEquals(new Source.Peer("c"), SourcePicker.pick(0, 99, "self", List.of(fetcher, other), "f", lanes, false, false));
  }

  @Test
  void aPieceOnlyTheFetcherHasComesFromItForItsRelayAndFromTheRelayForEveryoneElse() {
    PeerNetwork.Holder fetcher = partial("f", 0);
    PeerNetwork.Holder other = partial("c");
    String relay = HolderChoice.relay("self", List.of(fetcher, other), "f", 99);
    Source s = SourcePicker.pick(0, 99, "self", List.of(fetcher, other), "f", lanes, false, false);
    assertEquals(new Source.Peer(relay.equals("self") ? "f" : "c"), s);
  }

  @Test
  void aNodeThatIsNotThePiecesRelayStreamsItFromTheRelayNotFromTheFetcher() {
    PeerNetwork.Holder fetcher = partial("f");
    PeerNetwork.Holder other = partial("c");
    long last = lastByteWhereRelayIs("c", List.of(fetcher, other));
    assertEquals(new Source.Peer("c"), SourcePicker.pick(last - 99, last, "self", List.of(fetcher, other), "f", lanes, false, false));
  }

  @Test
  void aRelayAtItsLaneLimitIsWaitedForNotBypassedToTheFetcher() {
    PeerNetwork.Holder fetcher = partial("f");
    PeerNetwork.Holder other = partial("c");
    long last = lastByteWhereRelayIs("c", List.of(fetcher, other));
    lanes.acquire(new Source.Peer("c"));
    lanes.acquire(new Source.Peer("c"));
    assertEquals(new Source.None(false), SourcePicker.pick(last - 99, last, "self", List.of(fetcher, other), "f", lanes, false, false));
  }

  @Test
  void theNodeThatIsThePiecesRelayStreamsItFromTheFetcher() {
    PeerNetwork.Holder fetcher = partial("f");
    PeerNetwork.Holder other = partial("c");
    long last = lastByteWhereRelayIs("self", List.of(fetcher, other));
    assertEquals(new Source.Peer("f"), SourcePicker.pick(last - 99, last, "self", List.of(fetcher, other), "f", lanes, false, false));
  }

  /** The last byte of a 100-byte piece whose relay, seen from "self", is {@code relay}. */
  private static long lastByteWhereRelayIs(String relay, List<PeerNetwork.Holder> holders) {
    for (long last = 99; ; last += 100) {
      if (HolderChoice.relay("self", holders, "f", last).equals(relay)) {
        return last;
      }
    }
  }

  @Test
  void withNoHolderAndSomeoneElseFetchingThereIsNoSourceYet() {
    assertEquals(new Source.None(false), SourcePicker.pick(0, 99, "self", List.of(), "f", lanes, false, false));
  }
}
