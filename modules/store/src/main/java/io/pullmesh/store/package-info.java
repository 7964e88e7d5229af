/**
 * The cache on disk: blob files addressed by digest (written as partial files, committed by an atomic rename
 * only after their digest was verified) and a RocksDB index of blobs, manifests, tags and size hints.
 * Everything here blocks: callers on a Vert.x event loop go through a worker pool.
 */
package io.pullmesh.store;
