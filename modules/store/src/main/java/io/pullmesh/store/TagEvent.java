package io.pullmesh.store;

import io.pullmesh.core.Digest;

/** A tag was seen pointing at {@code digest} for the first time at {@code seenAt} (epoch ms). */
public record TagEvent(Digest digest, long seenAt) {}
