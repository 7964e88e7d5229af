package io.pullmesh.fetch;

import io.pullmesh.core.ByteRange;
import io.pullmesh.core.Digest;
import io.vertx.core.Future;
import io.vertx.core.http.HttpClientResponse;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;

/**
 * The other nodes of the LAN mesh, as a {@link BlobDownload} sees them: who holds a blob (complete, or which pieces
 * of it), who is fetching it from upstream now, the per-piece SHA-256 list of a blob once some node verified it, and
 * ranged reads from a peer. Implemented on the cluster engine by the mesh module; absent (null) when a node runs
 * alone. Every method is safe to call from an event loop (the blocking work runs elsewhere).
 */
public interface PeerNetwork {

  /** This node's id in the mesh. */
  String self();

  /**
   * What the mesh knows about {@code digest} now, excluding this node and any peer this node has banned.
   */
  Future<View> view(Digest digest);

  /**
   * Tries to become the one node that fetches {@code digest} from upstream (mesh-wide single-flight).
   *
   * @return the node that fetches it: {@link #self()} when this node won (or already held the claim)
   */
  Future<String> claim(Digest digest);

  /** Gives up the upstream claim on {@code digest} (after commit or failure); a no-op if this node does not hold it. */
  void release(Digest digest);

  /** Tells the mesh which pieces of {@code digest} this node has written so far (fire-and-forget). */
  void publishProgress(Digest digest, long size, int pieceSize, BitSet done);

  /** Tells the mesh this node no longer has a partial copy of {@code digest}. */
  void dropProgress(Digest digest);

  /**
   * This node committed {@code digest}: announces it complete (with its size), then gives up the upstream claim and
   * drops the progress record, in that order, so that peers always see either a fetcher or a holder
   * (fire-and-forget).
   */
  void committed(Digest digest, long size);

  /** Publishes the per-piece SHA-256 list of a blob this node verified whole (fire-and-forget; the first list stays). */
  void publishPieceHashes(Digest digest, PieceHashes hashes);

  /**
   * Opens {@code range} of {@code digest} on {@code node}. A peer that is still fetching the blob answers from its
   * partial copy, sending bytes as they arrive.
   *
   * @return the paused 206 response, its Content-Range checked; fails when the peer is gone, refuses, or answers
   *     anything else
   */
  Future<HttpClientResponse> openRange(String node, Digest digest, ByteRange range);

  /**
   * Records that {@code node} sent bytes that did not match (or failed otherwise): it is not asked again for a while,
   * by any download on this node.
   */
  void penalise(String node, String reason);

  /**
   * A peer with a copy of the blob.
   *
   * @param done the pieces it has (in its own piece size), or null when it holds the blob complete and verified
   * @param pieceSize the piece size {@code done} counts in (0 for a complete holder)
   */
  record Holder(String node, int pieceSize, BitSet done) {
    /** The one of {@code holders} that is {@code node}, or null. */
    static Holder of(List<Holder> holders, String node) {
      for (Holder h : holders) {
        if (h.node().equals(node)) {
          return h;
        }
      }
      return null;
    }

    /** Whether this holder has every byte of {@code [first, last]}. */
    public boolean has(long first, long last) {
      if (done == null) {
        return true;
      }
      for (long p = first / pieceSize; p <= last / pieceSize; p++) {
        if (!done.get((int) p)) {
          return false;
        }
      }
      return true;
    }
  }

  /**
   * @param size the blob's size if any node knows it, else -1
   * @param holders peers with a complete or partial copy (partial ones may be fetching it from upstream right now)
   * @param fetcher the node fetching the blob from upstream now (possibly this one), or null when none is
   * @param hashes the per-piece SHA-256 list, or null when no node published one yet
   */
  record View(long size, List<Holder> holders, String fetcher, PieceHashes hashes) {
    public static final View EMPTY = new View(-1, List.of(), null, null);

    public View {
      holders = List.copyOf(holders);
    }

    /** The holder that is {@code node}, or null when that node holds nothing of the blob. */
    public Holder holder(String node) {
      return Holder.of(holders, node);
    }
  }

  /** The SHA-256 of every piece of a blob cut in {@code pieceSize} pieces, concatenated (32 bytes per piece). */
  record PieceHashes(long size, int pieceSize, byte[] sha256s) {
    public PieceHashes {
      long pieces = (size + pieceSize - 1) / pieceSize;
      if (pieceSize <= 0 || size < 0 || sha256s.length != pieces * 32) {
        throw new IllegalArgumentException("piece hashes: " + sha256s.length + " bytes for " + pieces + " pieces");
      }
    }

    /** Whether {@code sha256} is the recorded hash of {@code piece}. */
    public boolean matches(int piece, byte[] sha256) {
      return MessageDigest.isEqual(Arrays.copyOfRange(sha256s, piece * 32, piece * 32 + 32), sha256);
    }

    /** Encodes to bytes: size, piece size, hashes. */
    public byte[] encode() {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(12 + sha256s.length);
      b.putLong(size).putInt(pieceSize).put(sha256s);
      return b.array();
    }

    public static PieceHashes decode(byte[] bytes) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes);
      long size = b.getLong();
      int pieceSize = b.getInt();
      byte[] h = new byte[b.remaining()];
      b.get(h);
      return new PieceHashes(size, pieceSize, h);
    }
  }
}
