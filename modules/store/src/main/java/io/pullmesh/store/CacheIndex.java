package io.pullmesh.store;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The RocksDB index: one column family per {@link Family}, keys and values encoded by {@link Codec}. Blocking;
 * thread-safe, as RocksDB is. The only class that touches RocksDB.
 */
final class CacheIndex implements AutoCloseable {

  /** What lives where. */
  enum Family {
    /** digest hex -> {@link BlobRecord} of a committed blob */
    BLOBS("blobs"),
    /** digest hex -> {@link ManifestRecord} */
    MANIFESTS("manifests"),
    /** repo:tag -> {@link TagRecord} */
    TAGS("tags"),
    /** repo:tag NUL time -> digest: every digest a tag has pointed to */
    TAG_HISTORY("tag-history"),
    /** digest hex -> size a manifest announced */
    HINTS("hints"),
    /** repo:tag -> {@link Pin} */
    PINS("pins"),
    /** repo:tag -> {@link Alias} */
    ALIASES("aliases"),
    /** name -> value: small settings the cache keeps (eviction state) */
    META("meta"),
    /** repo:tag -> {@link io.pullmesh.core.VersionGate}: what upstream's version gate said of the tag */
    GATES("gates");

    final String cf;

    Family(String cf) {
      this.cf = cf;
    }
  }

  static {
    RocksDB.loadLibrary();
  }

  private final DBOptions dbOptions;
  private final ColumnFamilyOptions cfOptions;
  private final WriteOptions writeOptions;
  private final RocksDB db;
  private final List<ColumnFamilyHandle> handles = new ArrayList<>();
  private final Map<Family, ColumnFamilyHandle> families = new EnumMap<>(Family.class);

  CacheIndex(Path dir) throws RocksDBException {
    // no fallocate: RocksDB would reserve ~1.1x the write buffer for each log up front, space a small disk shared
    // with blob files cannot spare (a blob download that fills the disk must still be able to record progress)
    dbOptions = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true)
        .setMaxOpenFiles(256).setKeepLogFileNum(3).setAllowFAllocate(false).setManifestPreallocationSize(64 << 10);
    cfOptions = new ColumnFamilyOptions().setWriteBufferSize(8L << 20);
    writeOptions = new WriteOptions();
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    descriptors.add(new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, cfOptions));
    for (Family f : Family.values()) {
      descriptors.add(new ColumnFamilyDescriptor(f.cf.getBytes(StandardCharsets.US_ASCII), cfOptions));
    }
    db = RocksDB.open(dbOptions, dir.toString(), descriptors, handles);
    for (Family f : Family.values()) {
      families.put(f, handles.get(f.ordinal() + 1));
    }
  }

  byte[] get(Family f, byte[] key) {
    try {
      return db.get(families.get(f), key);
    } catch (RocksDBException e) {
      throw new IllegalStateException("cache index read failed: " + e.getMessage(), e);
    }
  }

  void put(Family f, byte[] key, byte[] value) {
    try {
      db.put(families.get(f), writeOptions, key, value);
    } catch (RocksDBException e) {
      throw new IllegalStateException("cache index write failed: " + e.getMessage(), e);
    }
  }

  void delete(Family f, byte[] key) {
    try {
      db.delete(families.get(f), writeOptions, key);
    } catch (RocksDBException e) {
      throw new IllegalStateException("cache index delete failed: " + e.getMessage(), e);
    }
  }

  /** A group of writes applied atomically: all or none. */
  final class Batch implements AutoCloseable {
    private final WriteBatch batch = new WriteBatch();

    Batch put(Family f, byte[] key, byte[] value) {
      try {
        batch.put(families.get(f), key, value);
      } catch (RocksDBException e) {
        throw new IllegalStateException(e);
      }
      return this;
    }

    Batch delete(Family f, byte[] key) {
      try {
        batch.delete(families.get(f), key);
      } catch (RocksDBException e) {
        throw new IllegalStateException(e);
      }
      return this;
    }

    void commit() {
      try {
        db.write(writeOptions, batch);
      } catch (RocksDBException e) {
        throw new IllegalStateException("cache index write failed: " + e.getMessage(), e);
      }
    }

    @Override
    public void close() {
      batch.close();
    }
  }

  Batch batch() {
    return new Batch();
  }

  /** Every entry of {@code f}, in key order. */
  void forEach(Family f, BiConsumer<byte[], byte[]> consumer) {
    forEachWithPrefix(f, new byte[0], consumer);
  }

  /** Every entry of {@code f} whose key starts with {@code prefix}, in key order. */
  void forEachWithPrefix(Family f, byte[] prefix, BiConsumer<byte[], byte[]> consumer) {
    try (RocksIterator it = db.newIterator(families.get(f))) {
      for (it.seek(prefix); it.isValid(); it.next()) {
        byte[] key = it.key();
        if (key.length < prefix.length || !Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length)) {
          break;
        }
        consumer.accept(key, it.value());
      }
    }
  }

  @Override
  public void close() {
    for (ColumnFamilyHandle h : handles) {
      h.close();
    }
    db.close();
    writeOptions.close();
    cfOptions.close();
    dbOptions.close();
  }
}
