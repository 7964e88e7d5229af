package io.pullmesh.testkit.client;

import io.pullmesh.core.Digest;
import java.util.Objects;

/**
 * A blob to download, x/transfer's {@code Blob} (x/transfer/transfer.go:42-57) without the upload-only
 * {@code From}: the digest and the size the manifest declares.
 */
public record XTransferBlob(Digest digest, long size) {
  public XTransferBlob {
    Objects.requireNonNull(digest, "digest");
    if (size < 0) {
      throw new IllegalArgumentException("size must be >= 0, got " + size);
    }
  }
}
