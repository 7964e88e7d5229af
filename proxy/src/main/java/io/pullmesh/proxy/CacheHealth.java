package io.pullmesh.proxy;

import io.pullmesh.core.Bytes;
import io.pullmesh.store.BlobStore;
import io.pullmesh.store.SpaceManager;
import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * Whether the cache can take new blobs: its file system is not read-only, and its disk has more than
 * {@link SpaceManager#DISK_RESERVE} free (issue 18: a disk other programs filled left /healthz at 200 while every cold
 * pull failed). Checked by {@link #check} (blocking; the proxy runs it every few seconds on a worker), read by
 * /healthz and the {@code pullmesh_cache_writable} gauge. While it can, the start-up ballast is kept. Not for deciding
 * whether one download fits: the space manager does that.
 */
final class CacheHealth {
  private static final Logger LOG = Logger.getLogger(CacheHealth.class.getName());

  /** @param reason why the cache cannot take writes, or null when it can */
  record State(boolean writable, String reason) {}

  static final State OK = new State(true, null);

  private final BlobStore store;
  private final Supplier<FileStore> fileStore;
  private volatile State state = OK;

  CacheHealth(BlobStore store) {
    this(store, () -> {
      try {
        return Files.getFileStore(store.root());
      } catch (IOException e) {
        return null;
      }
    });
  }

  CacheHealth(BlobStore store, Supplier<FileStore> fileStore) {
    this.store = store;
    this.fileStore = fileStore;
  }

  State state() {
    return state;
  }

  /** Looks at the disk again; logs when the answer changes. Blocking. */
  State check() {
    State next = judge();
    State before = state;
    state = next;
    if (before.writable() != next.writable()) {
      if (next.writable()) {
        LOG.info("the cache takes writes again");
      } else {
        LOG.warning(() -> "the cache cannot take writes: " + next.reason() + " (cached blobs are still served; /healthz says degraded)");
      }
    }
    if (next.writable()) {
      store.keepBallast();
    }
    return next;
  }

  private State judge() {
    FileStore fs = fileStore.get();
    if (fs == null) {
      return new State(false, "the file system holding " + store.root() + " cannot be read");
    }
    try {
      if (fs.isReadOnly()) {
        return new State(false, "the file system holding " + store.root() + " is read-only");
      }
      long usable = fs.getUsableSpace();
      if (usable <= SpaceManager.DISK_RESERVE) {
        return new State(false, "the disk holding " + store.root() + " is full: " + Bytes.human(usable) + " free, "
            + Bytes.human(SpaceManager.DISK_RESERVE) + " is kept for the index; evict models, or free space on the disk");
      }
      return OK;
    } catch (IOException e) {
      return new State(false, "the disk holding " + store.root() + " cannot be read: " + e.getMessage());
    }
  }
}
