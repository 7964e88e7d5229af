package io.pullmesh.fetch;

import io.pullmesh.core.ErrorCode;
import io.pullmesh.core.RegistryException;
import java.io.IOException;

/** What a failure of the cache's own disk, or of a download, means to a client and to the partial file. Pure. */
final class StorageErrors {
  private StorageErrors() {}

  static boolean isDiskFull(IOException e) {
    String m = String.valueOf(e.getMessage());
    return m.contains("No space left") || m.contains("Disk quota");
  }

  /**
   * 507 for a disk that is full or cannot be written (a read-only file system), 500 for anything else; never 502, which
   * blames the upstream (issue 18).
   */
  static ErrorCode code(IOException e) {
    return isDiskFull(e) || String.valueOf(e.getMessage()).contains("Read-only file system") ? ErrorCode.INSUFFICIENT_STORAGE
        : ErrorCode.INTERNAL_ERROR;
  }

  /**
   * Whether the pieces of a download that failed with {@code e} are worth keeping for the next try: yes when upstream
   * or the disk failed; no when the bytes were wrong or the blob does not exist.
   */
  static boolean resumable(RegistryException e) {
    return e.code() != ErrorCode.BLOB_CORRUPT && e.code() != ErrorCode.BLOB_UNKNOWN && e.code() != ErrorCode.DENIED;
  }
}
