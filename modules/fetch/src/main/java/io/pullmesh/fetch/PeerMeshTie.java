package io.pullmesh.fetch;

import io.pullmesh.core.ByteRange;
import io.pullmesh.core.Digest;
import io.pullmesh.core.PieceLayout;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * The mesh's part of one download, over {@link PeerNetwork}: starts from peers when one holds the blob (or fetches it
 * and said how big it is), else claims the blob mesh-wide so that one node of the mesh fetches it from upstream; keeps
 * the download's view of the mesh; takes over the upstream fetch when the node doing it goes away.
 *
 * <p>Thread-safety: its state is guarded by {@code this}; it calls nothing (the network, the download's callback)
 * while holding it, and it never calls into the download under its lock (the download calls {@link #pick} under its
 * own).
 */
final class PeerMeshTie implements MeshTie {
  private static final Logger LOG = Logger.getLogger(PeerMeshTie.class.getName());
  /** How often a download refreshes its view of the mesh and tells the mesh its progress. */
  static final long TICK_MS = 250;
  /** How many times (of {@link #TICK_MS}) a download waits for a node that claimed a blob to say how big it is. */
  private static final int MAX_SIZE_WAITS = 40;
  /** The most ticks a node that starts from peers waits to see the other downloaders before it names relays. */
  static final int MAX_SETTLE_TICKS = 6;

  private final PeerNetwork peers;
  private final Digest digest;
  private final Timers timers;
  private final java.util.function.BiFunction<String, ByteRange, Future<Body>> open;

  // guarded by this
  private PeerNetwork.View view = PeerNetwork.View.EMPTY;
  private boolean fetcher;
  private boolean viewing;
  private boolean claiming;
  private boolean over;
  /**
   * Some bytes came from a partial copy: the peer that fetches the blob from upstream, or a relay streaming from it
   * (the fetcher publishes the piece hashes, not this node).
   */
  private boolean streamedFromPartial;
  private BitSet publishedDone;
  /**
   * Started from peers while one fetches the blob from upstream, and not yet settled: nodes that start together do not
   * see each other at first, and each would name itself the relay of every piece and stream them all from the
   * fetcher. Until then only pieces a peer other than the fetcher has whole are taken. It settles once two looks in a
   * row, the first a tick after this node told the mesh it downloads the blob, name the same downloaders, or after
   * {@link #MAX_SETTLE_TICKS} ticks.
   */
  private boolean settling;
  /** Ticks so far: the first tells the mesh this node downloads the blob. */
  private int ticks;
  /** The downloaders (partial holders) the last look named while settling; null before the first look that counts. */
  private java.util.Set<String> lastDownloaders;
  private final Map<String, Integer> errorsInRow = new HashMap<>();
  private Runnable changed = () -> {};

  /** Over {@code peers}, opening ranges through its data plane. */
  PeerMeshTie(PeerNetwork peers, Digest digest, Timers timers) {
    this(peers, digest, timers, (node, range) -> peers.openRange(node, digest, range).map(Body::of));
  }

  /** @param open opens a range of the blob on a peer */
  PeerMeshTie(PeerNetwork peers, Digest digest, Timers timers, java.util.function.BiFunction<String, ByteRange, Future<Body>> open) {
    this.peers = peers;
    this.digest = digest;
    this.timers = timers;
    this.open = open;
  }

  @Override
  public Future<Start> start(Runnable onChange) {
    synchronized (this) {
      changed = onChange;
    }
    Promise<Start> p = Promise.promise();
    look(0, p);
    return p.future();
  }

  private void look(int waits, Promise<Start> p) {
    peers.view(digest).otherwise(PeerNetwork.View.EMPTY).onComplete(ar -> decide(ar.result(), waits, p));
  }

  private void decide(PeerNetwork.View v, int waits, Promise<Start> p) {
    synchronized (this) {
      view = v;
    }
    if (v.size() >= 0 && !v.holders().isEmpty()) {
      LOG.fine(() -> "fetching " + digest + " from peers " + v.holders().stream().map(PeerNetwork.Holder::node).toList()
          + (v.fetcher() != null ? " (" + v.fetcher() + " fetches it from upstream)" : ""));
      synchronized (this) {
        settling = v.fetcher() != null && !v.fetcher().equals(peers.self());
      }
      p.complete(new Start.FromPeers(v.size(), v.hashes() != null && v.hashes().size() == v.size() ? v.hashes().pieceSize() : 0));
      return;
    }
    if (v.fetcher() != null && !v.fetcher().equals(peers.self()) && waits < MAX_SIZE_WAITS) {
      timers.once(TICK_MS, () -> look(waits + 1, p));
      return;
    }
    peers.claim(digest).onComplete(c -> {
      if (c.succeeded() && !c.result().equals(peers.self()) && waits < MAX_SIZE_WAITS) {
        look(waits + 1, p);
        return;
      }
      if (c.failed()) {
        LOG.warning(() -> "could not claim " + digest + " in the mesh (" + c.cause() + "); fetching it from upstream");
      }
      synchronized (this) {
        fetcher = true;
      }
      p.complete(new Start.FromUpstream());
    });
  }

  @Override
  public synchronized boolean selfFetches() {
    return fetcher;
  }

  @Override
  public synchronized Source pick(long first, long last, Lanes lanes, boolean upstreamLocated) {
    Source s = SourcePicker.pick(first, last, peers.self(), view.holders(), view.fetcher(), lanes, fetcher, upstreamLocated);
    if (settling && s instanceof Source.Peer peer && (peer.node().equals(view.fetcher()) || !has(peer.node(), first, last))) {
      return new Source.None(false);
    }
    if (s instanceof Source.Peer peer) {
      PeerNetwork.Holder h = view.holder(peer.node());
      streamedFromPartial |= h != null && h.done() != null;
    }
    return s;
  }

  /** Whether {@code node} has every byte of {@code [first, last]}, by the view; under the lock. */
  private boolean has(String node, long first, long last) {
    PeerNetwork.Holder h = view.holder(node);
    return h != null && h.has(first, last);
  }

  @Override
  public synchronized boolean holds(String node, long first, long last) {
    return has(node, first, last);
  }

  @Override
  public RangeSource peer(String node) {
    return range -> open.apply(node, range);
  }

  @Override
  public synchronized PeerNetwork.PieceHashes checkList(PieceLayout layout) {
    PeerNetwork.PieceHashes h = view.hashes();
    return h != null && h.size() == layout.size() && h.pieceSize() == layout.pieceSize() ? h : null;
  }

  @Override
  public boolean ticks() {
    return true;
  }

  @Override
  public void tick(PieceLayout layout, BitSet done, Supplier<List<ByteRange>> missing) {
    boolean publish;
    synchronized (this) {
      if (over) {
        return;
      }
      ticks++;
      publish = publishedDone == null || !publishedDone.equals(done);
      if (publish) {
        publishedDone = done;
      }
    }
    if (publish) {
      peers.publishProgress(digest, layout.size(), layout.pieceSize(), done);
    }
    refresh(missing);
  }

  /**
   * Looks at the mesh again (one lookup at a time). When no peer fetches the blob from upstream any more (it left, or
   * failed) and no peer has what this node still needs, this node claims the blob and fetches the rest upstream.
   */
  private void refresh(Supplier<List<ByteRange>> missing) {
    boolean settles;
    int lookTick;
    synchronized (this) {
      if (viewing) {
        return;
      }
      viewing = true;
      settles = ticks >= 2;
      lookTick = ticks;
    }
    peers.view(digest).onComplete(ar -> {
      List<ByteRange> lacking = missing.get();
      boolean claim;
      Runnable onChange;
      synchronized (this) {
        viewing = false;
        if (ar.succeeded()) {
          view = ar.result();
          if (settling && settles) {
            java.util.Set<String> now = downloaders(view);
            settling = !now.equals(lastDownloaders) && lookTick < MAX_SETTLE_TICKS;
            lastDownloaders = now;
          }
        }
        claim = !fetcher && !claiming && !over && view.fetcher() == null && !covers(view.holders(), lacking);
        claiming |= claim;
        onChange = changed;
      }
      if (!claim) {
        onChange.run();
        return;
      }
      peers.claim(digest).onComplete(c -> {
        boolean won;
        synchronized (this) {
          claiming = false;
          won = c.failed() || c.result().equals(peers.self());
          fetcher |= won;
        }
        if (won) {
          LOG.info(() -> "no peer fetches " + digest.shortHex() + " any more; fetching the rest from upstream");
        }
        onChange.run();
      });
    });
  }

  /** The nodes downloading the blob besides this one, by {@code v}: its partial holders. */
  private static java.util.Set<String> downloaders(PeerNetwork.View v) {
    java.util.Set<String> out = new java.util.HashSet<>();
    v.holders().stream().filter(h -> h.done() != null).forEach(h -> out.add(h.node()));
    return out;
  }

  /** Whether {@code holders} have every byte of every range in {@code lacking}. */
  static boolean covers(List<PeerNetwork.Holder> holders, List<ByteRange> lacking) {
    for (ByteRange r : lacking) {
      if (holders.stream().noneMatch(h -> h.has(r.first(), r.last()))) {
        return false;
      }
    }
    return true;
  }

  @Override
  public void peerServed(String node) {
    synchronized (this) {
      errorsInRow.remove(node);
    }
  }

  @Override
  public RetryPolicy.Action peerFailed(String node, UpstreamException error, String what) {
    RetryPolicy.Action.PeerLater a;
    synchronized (this) {
      a = (RetryPolicy.Action.PeerLater) RetryPolicy.afterPeerLane(error, errorsInRow.getOrDefault(node, 0), node.equals(view.fetcher()));
      if (a.penalise()) {
        errorsInRow.remove(node);
      } else if (a.counts()) {
        errorsInRow.merge(node, 1, Integer::sum);
      }
    }
    if (a.penalise()) {
      peers.penalise(node, "failed " + RetryPolicy.MAX_PEER_ERRORS + " requests for " + what + " in a row");
    }
    return a;
  }

  @Override
  public void sentCorrupt(String node, String what) {
    peers.penalise(node, "sent a corrupt piece of " + what);
    synchronized (this) {
      List<PeerNetwork.Holder> keep = new ArrayList<>(view.holders());
      keep.removeIf(h -> h.node().equals(node));
      view = new PeerNetwork.View(view.size(), keep, node.equals(view.fetcher()) ? null : view.fetcher(), view.hashes());
    }
  }

  @Override
  public void committed(long size, boolean checkedAgainstAList, boolean fetchedFromUpstream, Supplier<PeerNetwork.PieceHashes> hashes,
      Executor io) {
    boolean publish;
    synchronized (this) {
      over = true;
      // a node that fetched from upstream (or took the blob from complete holders only) publishes the piece list; one
      // that streamed from partial copies (the fetcher's, or relays') leaves that to the fetcher
      publish = !checkedAgainstAList && (fetchedFromUpstream || !streamedFromPartial);
    }
    peers.committed(digest, size);
    if (publish) {
      io.execute(() -> {
        PeerNetwork.PieceHashes h = hashes.get();
        if (h != null) {
          peers.publishPieceHashes(digest, h);
        }
      });
    }
  }

  @Override
  public void failed() {
    synchronized (this) {
      over = true;
    }
    peers.dropProgress(digest);
    peers.release(digest);
  }
}
