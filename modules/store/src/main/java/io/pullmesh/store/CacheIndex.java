package io.pullmesh.store;

import io.pullmesh.core.Digest;
import io.pullmesh.core.RepositoryName;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Consumer;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteOptions;

/**
 * The RocksDB index. Column families: {@code blobs} (digest hex to {@link BlobRecord}), {@code manifests}
 * (digest hex to {@link ManifestRecord}), {@code tags} ({@code repo:tag} to {@link TagRecord}) and
 * {@code hints} (digest hex to the size a manifest announced for it, so HEAD can answer before the blob is
 * fetched). Blocking; thread-safe, as RocksDB is.
 */
final class CacheIndex implements AutoCloseable {
  private static final String[] FAMILIES = {"blobs", "manifests", "tags", "hints"};

  static {
    RocksDB.loadLibrary();
  }

  private final DBOptions dbOptions;
  private final ColumnFamilyOptions cfOptions;
  private final WriteOptions writeOptions;
  private final RocksDB db;
  private final List<ColumnFamilyHandle> handles = new ArrayList<>();
  private final ColumnFamilyHandle blobs;
  private final ColumnFamilyHandle manifests;
  private final ColumnFamilyHandle tags;
  private final ColumnFamilyHandle hints;

  CacheIndex(Path dir) throws RocksDBException {
    dbOptions = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true)
        .setMaxOpenFiles(256).setKeepLogFileNum(3);
    cfOptions = new ColumnFamilyOptions().setWriteBufferSize(8L << 20);
    writeOptions = new WriteOptions();
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    descriptors.add(new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, cfOptions));
    for (String f : FAMILIES) {
      descriptors.add(new ColumnFamilyDescriptor(f.getBytes(StandardCharsets.US_ASCII), cfOptions));
    }
    db = RocksDB.open(dbOptions, dir.toString(), descriptors, handles);
    blobs = handles.get(1);
    manifests = handles.get(2);
    tags = handles.get(3);
    hints = handles.get(4);
  }

  Optional<BlobRecord> blob(Digest d) {
    byte[] v = get(blobs, Codec.key(d));
    return v == null ? Optional.empty() : Optional.of(Codec.blob(d, v));
  }

  void putBlob(BlobRecord r) {
    put(blobs, Codec.key(r.digest()), Codec.blob(r));
  }

  void deleteBlob(Digest d) {
    delete(blobs, Codec.key(d));
  }

  void forEachBlob(Consumer<BlobRecord> consumer) {
    try (RocksIterator it = db.newIterator(blobs)) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        Digest d = Digest.ofHex(new String(it.key(), StandardCharsets.US_ASCII));
        consumer.accept(Codec.blob(d, it.value()));
      }
    }
  }

  Optional<ManifestRecord> manifest(Digest d) {
    byte[] v = get(manifests, Codec.key(d));
    return v == null ? Optional.empty() : Optional.of(Codec.manifest(d, v));
  }

  void putManifest(ManifestRecord r) {
    put(manifests, Codec.key(r.digest()), Codec.manifest(r));
  }

  Optional<TagRecord> tag(RepositoryName repo, String tag) {
    byte[] v = get(tags, Codec.tagKey(repo, tag));
    return v == null ? Optional.empty() : Optional.of(Codec.tag(repo, tag, v));
  }

  void putTag(TagRecord r) {
    put(tags, Codec.tagKey(r.repository(), r.tag()), Codec.tag(r));
  }

  OptionalLong sizeHint(Digest d) {
    byte[] v = get(hints, Codec.key(d));
    return v == null ? OptionalLong.empty() : OptionalLong.of(Codec.sizeHint(v));
  }

  void putSizeHint(Digest d, long size) {
    put(hints, Codec.key(d), Codec.sizeHint(size));
  }

  private byte[] get(ColumnFamilyHandle cf, byte[] key) {
    try {
      return db.get(cf, key);
    } catch (RocksDBException e) {
      throw new IllegalStateException("cache index read failed: " + e.getMessage(), e);
    }
  }

  private void put(ColumnFamilyHandle cf, byte[] key, byte[] value) {
    try {
      db.put(cf, writeOptions, key, value);
    } catch (RocksDBException e) {
      throw new IllegalStateException("cache index write failed: " + e.getMessage(), e);
    }
  }

  private void delete(ColumnFamilyHandle cf, byte[] key) {
    try {
      db.delete(cf, writeOptions, key);
    } catch (RocksDBException e) {
      throw new IllegalStateException("cache index delete failed: " + e.getMessage(), e);
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
