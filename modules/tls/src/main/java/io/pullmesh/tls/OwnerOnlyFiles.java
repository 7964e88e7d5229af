package io.pullmesh.tls;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;

/**
 * Writing files that must never be readable by others. On POSIX file systems such files are created with mode
 * 0600 by the {@code open} call itself (a umask can only take bits away), then renamed into place, so there is no
 * moment where the content is readable by group or others. Other file systems get their default permissions.
 */
final class OwnerOnlyFiles {
  static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
  static final Set<PosixFilePermission> WORLD_READABLE = PosixFilePermissions.fromString("rw-r--r--");
  private static final Set<PosixFilePermission> OTHERS = EnumSet.of(
      PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE,
      PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);

  private OwnerOnlyFiles() {}

  static boolean posix(Path path) {
    return path.getFileSystem().supportedFileAttributeViews().contains("posix");
  }

  /** Creates {@code dir} (and missing parents) as 0700 on POSIX file systems; an existing directory is left alone. */
  static void createDirectories(Path dir) throws IOException {
    if (Files.isDirectory(dir)) {
      return;
    }
    if (posix(dir)) {
      Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    } else {
      Files.createDirectories(dir);
    }
  }

  /**
   * Writes {@code bytes} to a new temporary file next to {@code file}, syncs it and renames it over {@code file}:
   * readers see the old content or the new, never a mix.
   *
   * @param ownerOnly 0600 from creation on; otherwise the file ends up 0644
   */
  static void writeAtomically(Path file, byte[] bytes, boolean ownerOnly) throws IOException {
    Path target = file.toAbsolutePath();
    Path dir = target.getParent();
    boolean posix = posix(dir);
    Path tmp = posix
        ? Files.createTempFile(dir, "." + target.getFileName(), ".tmp", PosixFilePermissions.asFileAttribute(OWNER_ONLY))
        : Files.createTempFile(dir, "." + target.getFileName(), ".tmp");
    try {
      writeAndSync(tmp, bytes, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
      if (!ownerOnly && posix) {
        Files.setPosixFilePermissions(tmp, WORLD_READABLE);
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
    syncDirectory(dir);
  }

  /**
   * Creates {@code file}, which must not exist yet, with {@code bytes} and syncs it.
   *
   * @throws FileAlreadyExistsException if it exists
   */
  static void createNew(Path file, byte[] bytes, boolean ownerOnly) throws IOException {
    Set<StandardOpenOption> options = EnumSet.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    boolean posix = posix(file);
    FileAttribute<?>[] attrs = posix
        ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(ownerOnly ? OWNER_ONLY : WORLD_READABLE)}
        : new FileAttribute<?>[0];
    try (FileChannel ch = FileChannel.open(file, options, attrs)) {
      write(ch, bytes);
    }
    if (posix && !ownerOnly) {
      Files.setPosixFilePermissions(file, WORLD_READABLE); // a umask may have taken the read bits away
    }
  }

  /**
   * Refuses a key file that group or others may access.
   *
   * @throws TlsSetupException saying which mode it has and how to fix it
   */
  static void requireOwnerOnly(Path keyFile, String otherwise) throws IOException {
    if (!posix(keyFile)) {
      return;
    }
    Set<PosixFilePermission> perms = Files.getPosixFilePermissions(keyFile);
    Set<PosixFilePermission> extra = EnumSet.noneOf(PosixFilePermission.class);
    extra.addAll(perms);
    extra.retainAll(OTHERS);
    if (!extra.isEmpty()) {
      throw new TlsSetupException("CA key file " + keyFile + " is accessible by others (mode " + mode(perms)
          + "): chmod 600 it, or " + otherwise);
    }
  }

  /** The permissions as an octal mode such as {@code 0644}. */
  static String mode(Set<PosixFilePermission> perms) {
    int m = 0;
    for (PosixFilePermission p : perms) {
      m |= 1 << (8 - p.ordinal()); // OWNER_READ is ordinal 0 and bit 0400, ..., OTHERS_EXECUTE ordinal 8 and bit 01
    }
    return String.format("%04o", m);
  }

  private static void writeAndSync(Path file, byte[] bytes, StandardOpenOption... options) throws IOException {
    try (FileChannel ch = FileChannel.open(file, options)) {
      write(ch, bytes);
    }
  }

  private static void write(FileChannel ch, byte[] bytes) throws IOException {
    ByteBuffer buf = ByteBuffer.wrap(bytes);
    while (buf.hasRemaining()) {
      ch.write(buf);
    }
    ch.force(true);
  }

  private static void syncDirectory(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException | UnsupportedOperationException e) {
      // not every platform can sync a directory; the rename itself is still atomic
    }
  }
}
