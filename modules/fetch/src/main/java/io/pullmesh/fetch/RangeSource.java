package io.pullmesh.fetch;

import io.pullmesh.core.ByteRange;
import io.vertx.core.Future;

/**
 * Opens one range of one blob somewhere: upstream at a located URL, or on a peer. What a lane asks for; it does not
 * choose the source ({@link SourcePicker}) nor retry ({@link RetryPolicy}).
 */
@FunctionalInterface
interface RangeSource {
  /** @return the paused body of exactly {@code range}; fails with an {@link UpstreamException} or the transport's error */
  Future<Body> open(ByteRange range);
}
