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

  private static final byte MANIFEST_V2 = 2;

  static byte[] manifest(ManifestRecord r) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(r.bytes().length + 128);
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeByte(MANIFEST_V2);
      out.writeUTF(r.contentType());
      out.writeLong(r.fetchedAt());
      out.writeInt(r.bytes().length);
      out.write(r.bytes());
      out.writeInt(r.references().size());
      for (Digest d : r.references()) {
        out.writeUTF(d.hex());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  /** Reads format 2 (with references) and format 1 (without). */
  static ManifestRecord manifest(Digest d, byte[] v) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(v))) {
      byte version = in.readByte();
      if (version != V1 && version != MANIFEST_V2) {
        throw new IllegalStateException("manifest record has format version " + version + ": the cache was written by a newer pullmesh");
      }
      String type = in.readUTF();
      long fetched = in.readLong();
      byte[] bytes = new byte[in.readInt()];
      in.readFully(bytes);
      java.util.List<Digest> refs = new java.util.ArrayList<>();
      if (version == MANIFEST_V2) {
        int n = in.readInt();
        for (int i = 0; i < n; i++) {
          refs.add(Digest.ofHex(in.readUTF()));
        }
      }
      return new ManifestRecord(d, type, bytes, fetched, refs);
    } catch (IOException e) {
      throw new IllegalStateException("corrupt index value: " + e, e);
    }
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

  static byte[] pin(Pin p) {
    return write(out -> out.writeLong(p.pinnedAt()));
  }

  static Pin pin(RepositoryName repo, String tag, byte[] v) {
    return read(v, in -> new Pin(repo, tag, in.readLong()));
  }

  static byte[] alias(Alias a) {
    return write(out -> {
      out.writeUTF(a.targetRepository().value());
      out.writeUTF(a.targetTag() == null ? "" : a.targetTag());
      out.writeUTF(a.targetDigest() == null ? "" : a.targetDigest().toString());
      out.writeLong(a.updatedAt());
    });
  }

  static Alias alias(RepositoryName repo, String tag, byte[] v) {
    return read(v, in -> {
      RepositoryName target = RepositoryName.parse(in.readUTF());
      String targetTag = in.readUTF();
      String targetDigest = in.readUTF();
      return new Alias(repo, tag, target, targetTag.isEmpty() ? null : targetTag,
          targetDigest.isEmpty() ? null : Digest.parse(targetDigest), in.readLong());
    });
  }

  static byte[] gate(io.pullmesh.core.VersionGate g) {
    return write(out -> {
      out.writeUTF(g.oldestAccepted() == null ? "" : g.oldestAccepted().toString());
      out.writeUTF(g.newestRefused() == null ? "" : g.newestRefused().toString());
      out.writeUTF(g.refusal() == null ? "" : g.refusal());
    });
  }

  static io.pullmesh.core.VersionGate gate(byte[] v) {
    return read(v, in -> {
      String accepted = in.readUTF();
      String refused = in.readUTF();
      String words = in.readUTF();
      return new io.pullmesh.core.VersionGate(accepted.isEmpty() ? null : io.pullmesh.core.OllamaVersion.parse(accepted),
          refused.isEmpty() ? null : io.pullmesh.core.OllamaVersion.parse(refused), words.isEmpty() ? null : words);
    });
  }

  /** {@code repo:tag NUL}: the prefix of a tag's history keys. */
  static byte[] historyPrefix(RepositoryName repo, String tag) {
    byte[] t = tagKey(repo, tag);
    byte[] k = new byte[t.length + 1];
    System.arraycopy(t, 0, k, 0, t.length);
    return k;
  }

  /** {@code repo:tag NUL <8-byte big-endian time>}: history keys sort by time. */
  static byte[] historyKey(RepositoryName repo, String tag, long at) {
    byte[] p = historyPrefix(repo, tag);
    byte[] k = java.util.Arrays.copyOf(p, p.length + 8);
    for (int i = 0; i < 8; i++) {
      k[p.length + i] = (byte) (at >>> (56 - 8 * i));
    }
    return k;
  }

  static long historyTime(byte[] key) {
    long t = 0;
    for (int i = key.length - 8; i < key.length; i++) {
      t = (t << 8) | (key[i] & 0xff);
    }
    return t;
  }

  /** Splits a {@code repo:tag} key (tags never contain ':', repositories never do). */
  static String[] splitTagKey(byte[] key) {
    String s = new String(key, StandardCharsets.UTF_8);
    int colon = s.lastIndexOf(':');
    return new String[] {s.substring(0, colon), s.substring(colon + 1)};
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
