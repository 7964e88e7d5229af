package io.pullmesh.store;

import io.pullmesh.core.Digest;
import io.pullmesh.core.RepositoryName;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * Binary encodings of index values. Each value starts with a format version byte so a later release can
 * read what an earlier one wrote; an unknown version is reported, never guessed at.
 */
final class Codec {
  private static final byte V1 = 1;

  private Codec() {}

  static byte[] key(Digest d) {
    return d.hex().getBytes(StandardCharsets.US_ASCII);
  }

  static byte[] tagKey(RepositoryName repo, String tag) {
    return (repo.value() + ":" + tag).getBytes(StandardCharsets.UTF_8);
  }

  static byte[] blob(BlobRecord r) {
    return write(out -> {
      out.writeLong(r.size());
      out.writeLong(r.createdAt());
      out.writeLong(r.lastAccess());
      out.writeLong(r.hits());
    });
  }

  static BlobRecord blob(Digest d, byte[] v) {
    return read(v, in -> new BlobRecord(d, in.readLong(), in.readLong(), in.readLong(), in.readLong()));
  }

  static byte[] manifest(ManifestRecord r) {
    return write(out -> {
      out.writeUTF(r.contentType());
      out.writeLong(r.fetchedAt());
      out.writeInt(r.bytes().length);
      out.write(r.bytes());
    });
  }

  static ManifestRecord manifest(Digest d, byte[] v) {
    return read(v, in -> {
      String type = in.readUTF();
      long fetched = in.readLong();
      byte[] bytes = new byte[in.readInt()];
      in.readFully(bytes);
      return new ManifestRecord(d, type, bytes, fetched);
    });
  }

  static byte[] tag(TagRecord r) {
    return write(out -> {
      out.writeUTF(r.digest().toString());
      out.writeLong(r.checkedAt());
    });
  }

  static TagRecord tag(RepositoryName repo, String tag, byte[] v) {
    return read(v, in -> new TagRecord(repo, tag, Digest.parse(in.readUTF()), in.readLong()));
  }

  static byte[] sizeHint(long size) {
    return write(out -> out.writeLong(size));
  }

  static long sizeHint(byte[] v) {
    return read(v, DataInputStream::readLong);
  }

  interface Writer {
    void write(DataOutputStream out) throws IOException;
  }

  interface Reader<T> {
    T read(DataInputStream in) throws IOException;
  }

  private static byte[] write(Writer w) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeByte(V1);
      w.write(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  private static <T> T read(byte[] v, Reader<T> r) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(v))) {
      byte version = in.readByte();
      if (version != V1) {
        throw new IllegalStateException("index value has format version " + version + ", this build reads " + V1
            + ": the cache was written by a newer pullmesh");
      }
      return r.read(in);
    } catch (IOException e) {
      throw new IllegalStateException("corrupt index value: " + e, e);
    }
  }
}
