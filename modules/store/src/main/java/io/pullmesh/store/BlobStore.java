package io.pullmesh.store;

import io.pullmesh.core.Digest;
import io.pullmesh.store.CacheIndex.Family;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;
import org.rocksdb.RocksDBException;

/**
 * The blob cache on disk. Layout under the cache directory:
 *
 * <pre>
 *   LOCK                          held with a file lock while one process owns the cache
 *   ballast                       8 MiB of zeros, freed at start when the disk is full so the index can open
 *   blobs/sha256/ab/abcdef...     committed blobs: verified, complete, never written again (mode 0444)
 *   partial/sha256-abcdef....data blobs being fetched: a sparse file of the final size, written at offsets
 *   quarantine/sha256-abcdef...   committed blobs whose bytes no longer matched their digest (kept for inspection)
 *   partial/sha256-abcdef....pieces its piece map: which pieces are flushed to disk ({@link PieceMapFile})
 *   index/                        RocksDB: blobs, manifests, tags, pins, aliases ({@link CacheIndex})
 * </pre>
 *
 * <p>A blob moves from {@code partial/} to {@code blobs/} only through {@link #commit}: the caller has
 * verified its SHA-256; commit flushes the file to disk, renames it atomically (same file system), flushes
 * the directory and only then writes the index record. A crash at any point leaves either no committed file
 * (the partial stays, to be resumed) or a complete one (re-indexed at next start if its record was not
 * written yet). A committed file is therefore always whole and correct; the index never names a file that is
 * not there for long ({@link #lookup} drops such records).
 *
 * <p>A partial file survives a restart only together with its piece map, which names the pieces that were
 * flushed to disk before it was written; a partial without one is deleted at start.
 *
 * <p>Blocking and thread-safe. Never call from a Vert.x event loop.
 */
public final class BlobStore implements AutoCloseable, PartialFiles {
  private static final Logger LOG = Logger.getLogger(BlobStore.class.getName());

  private final Path root;
  private final Path blobsDir;
  private final Path partialDir;
  private final Path quarantineDir;
  private final Clock clock;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final CacheIndex index;
  private final Catalog catalog;
  private final AtomicLong committedBytes = new AtomicLong();
  private final AtomicLong committedBlobs = new AtomicLong();

  private BlobStore(Path root, Clock clock, FileChannel lockChannel, FileLock lock, CacheIndex index) {
    this.root = root;
    this.blobsDir = root.resolve("blobs").resolve(Digest.ALGORITHM);
    this.partialDir = root.resolve("partial");
    this.quarantineDir = root.resolve("quarantine");
    this.clock = clock;
    this.lockChannel = lockChannel;
    this.lock = lock;
    this.index = index;
    this.catalog = new Catalog(index);
  }

  /**
   * Opens (creating if needed) the cache at {@code root}: takes its lock, opens the index, keeps the partial files
   * that can be resumed and deletes the others, and reconciles the index with the committed files.
   *
   * @throws CacheUnusableException when the directory cannot be created or written, another process holds
   *     it ({@link CacheInUseException}), or the index cannot be opened; the message says which and what to do
   */
  public static BlobStore open(Path root, Clock clock) {
    Path abs = root.toAbsolutePath().normalize();
    try {
      Files.createDirectories(abs);
    } catch (FileAlreadyExistsException e) {
      throw new CacheUnusableException("cache dir " + abs + " (or a parent) exists but is not a directory: choose another with --cache-dir or PULLMESH_CACHE_DIR", e);
    } catch (IOException e) {
      throw new CacheUnusableException("cache dir " + abs + " cannot be created (" + describe(e)
          + "): choose a writable directory with --cache-dir or PULLMESH_CACHE_DIR", e);
    }
    if (!Files.isDirectory(abs)) {
      throw new CacheUnusableException("cache dir " + abs + " exists but is not a directory: choose another with --cache-dir or PULLMESH_CACHE_DIR", null);
    }
    FileChannel lockChannel;
    FileLock lock;
    try {
      lockChannel = FileChannel.open(abs.resolve("LOCK"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    } catch (IOException e) {
      throw new CacheUnusableException("cache dir " + abs + " is not writable (" + describe(e)
          + "): fix its permissions or choose another with --cache-dir or PULLMESH_CACHE_DIR", e);
    }
    try {
      lock = lockChannel.tryLock();
    } catch (IOException | OverlappingFileLockException e) {
      lock = null;
    }
    if (lock == null) {
      closeQuietly(lockChannel);
      throw new CacheInUseException("cache dir " + abs + " is in use by another pullmesh process: stop it, or give this one its own --cache-dir");
    }
    CacheIndex index = null;
    try {
      Files.createDirectories(abs.resolve("blobs").resolve(Digest.ALGORITHM));
      Files.createDirectories(abs.resolve("partial"));
      Files.createDirectories(abs.resolve("index"));
      Ballast.makeRoomToStart(abs);
      index = new CacheIndex(abs.resolve("index"));
      BlobStore store = new BlobStore(abs, clock, lockChannel, lock, index);
      store.reconcilePartials();
      store.reconcile();
      Ballast.ensure(abs);
      return store;
    } catch (IOException | RocksDBException | RuntimeException e) {
      if (index != null) {
        index.close();
      }
      closeQuietly(lockChannel);
      if (e instanceof CacheUnusableException c) {
        throw c;
      }
      throw new CacheUnusableException("cache dir " + abs + " cannot be used (" + describe(e)
          + "): check its permissions and free space, or choose another with --cache-dir", e);
    }
  }

  private static String describe(Exception e) {
    if (e instanceof AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof NoSuchFileException n) {
      return "no such file or directory: " + n.getFile();
    }
    if (e instanceof FileSystemException f && f.getReason() != null) {
      return f.getReason();
    }
    return String.valueOf(e.getMessage());
  }

  public Path root() {
    return root;
  }

  /** Manifests, tags, pins, aliases and size hints. */
  public Catalog catalog() {
    return catalog;
  }

  /** Where a committed blob lives (whether or not it is there). */
  @Override
  public Path blobPath(Digest d) {
    return blobsDir.resolve(d.hex().substring(0, 2)).resolve(d.hex());
  }

  /** Where a blob being fetched is written. */
  public Path partialPath(Digest d) {
    return partialDir.resolve("sha256-" + d.hex() + ".data");
  }

  // ------------------------------------------------------------------ committed blobs

  /**
   * The committed blob, if the index has it and its file is there with the recorded size. A record whose
   * file is gone is dropped.
   */
  public Optional<BlobRecord> lookup(Digest d) {
    Optional<BlobRecord> r = record(d);
    if (r.isEmpty()) {
      return r;
    }
    long size = sizeOrMinusOne(blobPath(d));
    if (size != r.get().size()) {
      LOG.warning(() -> "index names " + d + " but its file is " + (size < 0 ? "missing" : "of the wrong size") + "; dropping the record");
      forget(r.get());
      return Optional.empty();
    }
    return r;
  }

  private Optional<BlobRecord> record(Digest d) {
    byte[] v = index.get(Family.BLOBS, Codec.key(d));
    return v == null ? Optional.empty() : Optional.of(Codec.blob(d, v));
  }

  /** Every committed blob's record, in digest order. */
  public List<BlobRecord> blobs() {
    List<BlobRecord> out = new ArrayList<>();
    index.forEach(Family.BLOBS, (k, v) -> out.add(Codec.blob(Digest.ofHex(new String(k, StandardCharsets.US_ASCII)), v)));
    return out;
  }

  /** Counts a cache hit: last access now, hits + 1. */
  public synchronized void recordHit(Digest d) {
    record(d).ifPresent(r -> index.put(Family.BLOBS, Codec.key(d), Codec.blob(r.touched(clock.millis()))));
  }

  /**
   * Publishes a verified partial file as the committed blob {@code d}. The caller must have checked that its
   * bytes hash to {@code d}; {@code channel} is the partial file's channel (flushed here, left open: a
   * reader holding it keeps reading the same bytes after the rename). The blob's piece map is dropped.
   */
  public BlobRecord commit(Digest d, long size, FileChannel channel) throws IOException {
    channel.force(true);
    Path target = blobPath(d);
    Files.createDirectories(target.getParent());
    Files.move(partialPath(d), target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    fsyncDirectory(target.getParent());
    try {
      Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("r--r--r--"));
    } catch (UnsupportedOperationException | IOException e) {
      // not a POSIX file system: the file stays writable, which only loses a safety net
    }
    long now = clock.millis();
    boolean existed = record(d).isPresent();
    BlobRecord r = new BlobRecord(d, size, now, now, 0);
    index.put(Family.BLOBS, Codec.key(d), Codec.blob(r));
    Files.deleteIfExists(piecesPath(d));
    if (!existed) {
      committedBlobs.incrementAndGet();
      committedBytes.addAndGet(size);
    }
    return r;
  }

  /**
   * Removes a committed blob (eviction): its file first, then its record, so a crash in between leaves a record
   * without a file (dropped at the next lookup or start) and never a file the next start would re-index. A reader
   * holding the file open keeps its bytes; new requests no longer find it.
   *
   * @return the bytes freed, 0 when it was not there or its file could not be deleted
   */
  public long evict(Digest d) {
    Optional<BlobRecord> r = record(d);
    if (r.isEmpty()) {
      return 0;
    }
    try {
      Files.deleteIfExists(blobPath(d));
    } catch (IOException e) {
      LOG.warning(() -> "could not delete evicted blob " + d + ": " + e);
      return 0;
    }
    forget(r.get());
    return r.get().size();
  }

  /**
   * Moves a committed blob whose bytes no longer match its digest out of the cache, into {@code quarantine/}, and
   * drops its record.
   */
  public void quarantine(Digest d) throws IOException {
    Files.createDirectories(quarantineDir);
    record(d).ifPresent(this::forget);
    Path p = blobPath(d);
    if (Files.exists(p)) {
      Files.move(p, quarantineDir.resolve("sha256-" + d.hex()), StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** Bytes of committed blobs. */
  public long committedBytes() {
    return committedBytes.get();
  }

  /** Number of committed blobs. */
  public long committedBlobs() {
    return committedBlobs.get();
  }

  private void forget(BlobRecord r) {
    index.delete(Family.BLOBS, Codec.key(r.digest()));
    committedBlobs.decrementAndGet();
    committedBytes.addAndGet(-r.size());
  }

  // ------------------------------------------------------------------ partial blobs

  private Path piecesPath(Digest d) {
    return partialDir.resolve("sha256-" + d.hex() + ".pieces");
  }

  /**
   * Creates (or truncates) the partial file for {@code d}, sized {@code size} bytes (sparse), open for positional
   * reads and writes, with an empty piece map for pieces of {@code pieceSize}. The caller owns the channel.
   */
  public FileChannel openPartial(Digest d, long size, io.pullmesh.core.RepositoryName repository, int pieceSize) throws IOException {
    Files.deleteIfExists(piecesPath(d));
    Path p = partialPath(d);
    try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "rw")) {
      raf.setLength(0);
      raf.setLength(size);
    }
    PieceMapFile.create(piecesPath(d), new PartialRecord(d, repository, size, pieceSize, new java.util.BitSet(), clock.millis()));
    return FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE);
  }

  /**
   * The piece map of a download that can be resumed: a valid piece map and a partial file of the recorded size.
   */
  @Override
  public Optional<PartialRecord> partial(Digest d) {
    return PieceMapFile.read(piecesPath(d), d).filter(r -> sizeOrMinusOne(partialPath(d)) == r.size());
  }

  /** Every download that can be resumed. */
  public List<PartialRecord> partials() {
    List<PartialRecord> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(partialDir, "sha256-*.pieces")) {
      for (Path p : ds) {
        String name = p.getFileName().toString();
        String hex = name.substring(7, name.length() - ".pieces".length());
        if (Digest.isValid(Digest.ALGORITHM + ":" + hex)) {
          partial(Digest.ofHex(hex)).ifPresent(out::add);
        }
      }
    } catch (IOException e) {
      LOG.warning(() -> "could not list " + partialDir + ": " + e);
    }
    return out;
  }

  /** Opens the partial file of a resumable download, keeping its bytes. */
  public FileChannel reopenPartial(PartialRecord r) throws IOException {
    return FileChannel.open(partialPath(r.digest()), StandardOpenOption.READ, StandardOpenOption.WRITE);
  }

  /**
   * Records which pieces are safely on disk, in place (no new disk space needed). The caller must have flushed
   * ({@code force}) the partial file after the last write to any piece named in {@code r}; otherwise a crash could
   * leave a piece named but not written.
   */
  public void putPartial(PartialRecord r) throws IOException {
    PieceMapFile.update(piecesPath(r.digest()), r);
  }

  /** Creates the partial file of a new download: {@link #openPartial}, as a {@link PartialFile}. */
  @Override
  public PartialFile createPartial(Digest d, long size, io.pullmesh.core.RepositoryName repository, int pieceSize) throws IOException {
    return new StoredPartial(this, clock, d, repository, size, pieceSize, openPartial(d, size, repository, pieceSize));
  }

  /** Reopens the partial file of a download a previous run left unfinished: {@link #reopenPartial}, as a {@link PartialFile}. */
  @Override
  public PartialFile resumePartial(PartialRecord r) throws IOException {
    return new StoredPartial(this, clock, r.digest(), r.repository(), r.size(), r.pieceSize(), reopenPartial(r));
  }

  /** Deletes the partial file of {@code d} and its piece map, if any. */
  @Override
  public void discardPartial(Digest d) {
    try {
      Files.deleteIfExists(piecesPath(d));
      Files.deleteIfExists(partialPath(d));
    } catch (IOException e) {
      LOG.warning(() -> "could not delete partial file of " + d + ": " + e);
    }
  }

  /** Makes the start-up ballast again if it was freed and the disk has room now (see {@link Ballast}). Blocking. */
  public void keepBallast() {
    Ballast.ensure(root);
  }

  /** Bytes of partial files on disk (resumable downloads and downloads in progress). */
  public long partialBytes() {
    long sum = 0;
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(partialDir, "*.data")) {
      for (Path p : ds) {
        sum += sizeOrMinusOne(p);
      }
    } catch (IOException e) {
      LOG.warning(() -> "could not list " + partialDir + ": " + e);
    }
    return sum;
  }

  /**
   * A partial file is kept only with a valid piece map of its size (and only while its blob is not committed);
   * anything else in {@code partial/} is deleted.
   */
  private void reconcilePartials() throws IOException {
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(partialDir)) {
      for (Path p : ds) {
        String name = p.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String hex = name.startsWith("sha256-") && dot > 7 ? name.substring(7, dot) : "";
        boolean keep = Digest.isValid(Digest.ALGORITHM + ":" + hex) && (name.endsWith(".data") || name.endsWith(".pieces"))
            && partial(Digest.ofHex(hex)).isPresent() && record(Digest.ofHex(hex)).isEmpty();
        if (!keep) {
          LOG.info(() -> "deleting " + name + ": not a resumable download");
          Files.deleteIfExists(p);
        }
      }
    }
  }

  /**
   * Makes the index and the committed files agree: a file without a record (a crash between rename and
   * index write) gets one; a record without its file is dropped.
   */
  private void reconcile() throws IOException {
    long now = clock.millis();
    try (DirectoryStream<Path> prefixes = Files.newDirectoryStream(blobsDir)) {
      for (Path prefix : prefixes) {
        if (!Files.isDirectory(prefix)) {
          continue;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(prefix)) {
          for (Path f : files) {
            String name = f.getFileName().toString();
            if (!Digest.isValid(Digest.ALGORITHM + ":" + name) || !name.startsWith(prefix.getFileName().toString())) {
              LOG.warning(() -> "ignoring stray file in the blob directory: " + f);
              continue;
            }
            Digest d = Digest.ofHex(name);
            if (record(d).isEmpty()) {
              long size = Files.size(f);
              index.put(Family.BLOBS, Codec.key(d), Codec.blob(new BlobRecord(d, size, now, now, 0)));
              LOG.info(() -> "re-indexed committed blob " + d + " (" + size + " bytes)");
            }
          }
        }
      }
    }
    List<Digest> missing = new ArrayList<>();
    index.forEach(Family.BLOBS, (k, v) -> {
      Digest d = Digest.ofHex(new String(k, StandardCharsets.US_ASCII));
      BlobRecord r = Codec.blob(d, v);
      if (Files.exists(blobPath(d))) {
        committedBlobs.incrementAndGet();
        committedBytes.addAndGet(r.size());
      } else {
        missing.add(d);
      }
    });
    for (Digest d : missing) {
      LOG.info(() -> "dropping the record of " + d + ": its file is gone");
      index.delete(Family.BLOBS, Codec.key(d));
    }
  }

  private static long sizeOrMinusOne(Path p) {
    try {
      return Files.size(p);
    } catch (IOException e) {
      return -1;
    }
  }

  private static void fsyncDirectory(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      // some platforms cannot open a directory for fsync; the rename itself is still atomic
    }
  }

  static void closeQuietly(FileChannel ch) {
    try {
      ch.close();
    } catch (IOException e) {
      // closing a lock channel we are giving up on
    }
  }

  @Override
  public void close() {
    index.close();
    try {
      lock.release();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      closeQuietly(lockChannel);
    }
  }
}
