package io.pullmesh.fetch;

import io.pullmesh.core.ByteRange;
import io.pullmesh.core.Digest;
import io.vertx.core.Future;
import io.vertx.core.http.HttpClientResponse;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Stands for the mesh (Hazelcast maps and the peers' HTTP data plane, modules/mesh) in a download's unit tests: the
 * test sets what {@link #view} answers and who wins {@link #claim}, and records what the download told the mesh. Ranges
 * on peers are opened by the opener the test gives {@link PeerMeshTie}, not here.
 */
final class FakePeerNetwork implements PeerNetwork {
  volatile View view = View.EMPTY;
  /** Who a claim says fetches the blob; null: this node. */
  volatile String claimedBy;
  final List<String> penalised = new CopyOnWriteArrayList<>();
  final List<String> events = new CopyOnWriteArrayList<>();

  @Override
  public String self() {
    return "self";
  }

  /** The test's view, less the peers penalised since (as the real mesh leaves banned peers out). */
  @Override
  public Future<View> view(Digest digest) {
    View v = view;
    List<Holder> holders = v.holders().stream().filter(h -> !penalised.contains(h.node())).toList();
    return Future.succeededFuture(new View(v.size(), holders, penalised.contains(v.fetcher()) ? null : v.fetcher(), v.hashes()));
  }

  @Override
  public Future<String> claim(Digest digest) {
    events.add("claim");
    return Future.succeededFuture(claimedBy == null ? self() : claimedBy);
  }

  @Override
  public void release(Digest digest) {
    events.add("release");
  }

  @Override
  public void publishProgress(Digest digest, long size, int pieceSize, BitSet done) {
    events.add("progress " + done.cardinality());
  }

  @Override
  public void dropProgress(Digest digest) {
    events.add("drop");
  }

  @Override
  public void committed(Digest digest, long size) {
    events.add("committed");
  }

  @Override
  public void publishPieceHashes(Digest digest, PieceHashes hashes) {
    events.add("hashes");
  }

  @Override
  public Future<HttpClientResponse> openRange(String node, Digest digest, ByteRange range) {
    throw new UnsupportedOperationException("the tests give PeerMeshTie an opener of their own");
  }

  @Override
  public void penalise(String node, String reason) {
    penalised.add(node);
  }
}
