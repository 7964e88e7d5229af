package io.pullmesh.store;

import io.pullmesh.core.Digest;
import io.pullmesh.core.RepositoryName;
import io.pullmesh.core.VersionGate;
import io.pullmesh.store.CacheIndex.Family;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;

/**
 * What the cache knows besides blob files: manifests, tags (and every digest each tag has pointed to), what upstream's
 * version gate said of each tag, the sizes manifests announce for their blobs, pins and aliases. Blocking and thread-safe; never call from an event loop.
 */
public final class Catalog {
  private final CacheIndex index;

  Catalog(CacheIndex index) {
    this.index = index;
  }

  // ------------------------------------------------------------------ manifests

  public Optional<ManifestRecord> manifest(Digest d) {
    byte[] v = index.get(Family.MANIFESTS, Codec.key(d));
    return v == null ? Optional.empty() : Optional.of(Codec.manifest(d, v));
  }

  public void putManifest(ManifestRecord r) {
    index.put(Family.MANIFESTS, Codec.key(r.digest()), Codec.manifest(r));
  }

  public List<ManifestRecord> manifests() {
    List<ManifestRecord> out = new ArrayList<>();
    index.forEach(Family.MANIFESTS, (k, v) -> out.add(Codec.manifest(Digest.ofHex(new String(k, StandardCharsets.US_ASCII)), v)));
    return out;
  }

  // ------------------------------------------------------------------ tags

  public Optional<TagRecord> tag(RepositoryName repo, String tag) {
    byte[] v = index.get(Family.TAGS, Codec.tagKey(repo, tag));
    return v == null ? Optional.empty() : Optional.of(Codec.tag(repo, tag, v));
  }

  /**
   * Records what a tag points to now. When that is a digest the tag did not point to before, it is added to the
   * tag's history, in the same atomic write.
   */
  public synchronized void putTag(TagRecord r) {
    Optional<TagRecord> before = tag(r.repository(), r.tag());
    try (CacheIndex.Batch b = index.batch()) {
      b.put(Family.TAGS, Codec.tagKey(r.repository(), r.tag()), Codec.tag(r));
      if (before.isEmpty() || !before.get().digest().equals(r.digest())) {
        b.put(Family.TAG_HISTORY, Codec.historyKey(r.repository(), r.tag(), r.checkedAt()),
            r.digest().toString().getBytes(StandardCharsets.US_ASCII));
      }
      b.commit();
    }
  }

  public List<TagRecord> tags() {
    List<TagRecord> out = new ArrayList<>();
    index.forEach(Family.TAGS, (k, v) -> {
      String[] rt = Codec.splitTagKey(k);
      out.add(Codec.tag(RepositoryName.parse(rt[0]), rt[1], v));
    });
    return out;
  }

  /** Every digest the tag has pointed to, oldest first. */
  public List<TagEvent> tagHistory(RepositoryName repo, String tag) {
    List<TagEvent> out = new ArrayList<>();
    index.forEachWithPrefix(Family.TAG_HISTORY, Codec.historyPrefix(repo, tag),
        (k, v) -> out.add(new TagEvent(Digest.parse(new String(v, StandardCharsets.US_ASCII)), Codec.historyTime(k))));
    return out;
  }

  // ------------------------------------------------------------------ version gates

  /** What upstream's version gate said of a tag: {@link VersionGate#OPEN} when it never refused a client. */
  public VersionGate gate(RepositoryName repo, String tag) {
    byte[] v = index.get(Family.GATES, Codec.tagKey(repo, tag));
    return v == null ? VersionGate.OPEN : Codec.gate(v);
  }

  public void putGate(RepositoryName repo, String tag, VersionGate gate) {
    index.put(Family.GATES, Codec.tagKey(repo, tag), Codec.gate(gate));
  }

  // ------------------------------------------------------------------ size hints

  /** The size a manifest announced for {@code d}, remembered so a HEAD can be answered before any fetch. */
  public OptionalLong sizeHint(Digest d) {
    byte[] v = index.get(Family.HINTS, Codec.key(d));
    return v == null ? OptionalLong.empty() : OptionalLong.of(Codec.sizeHint(v));
  }

  public void putSizeHint(Digest d, long size) {
    index.put(Family.HINTS, Codec.key(d), Codec.sizeHint(size));
  }

  // ------------------------------------------------------------------ pins

  public void pin(Pin p) {
    index.put(Family.PINS, Codec.tagKey(p.repository(), p.tag()), Codec.pin(p));
  }

  /** @return whether it was pinned */
  public boolean unpin(RepositoryName repo, String tag) {
    byte[] key = Codec.tagKey(repo, tag);
    boolean was = index.get(Family.PINS, key) != null;
    index.delete(Family.PINS, key);
    return was;
  }

  public Optional<Pin> pin(RepositoryName repo, String tag) {
    byte[] v = index.get(Family.PINS, Codec.tagKey(repo, tag));
    return v == null ? Optional.empty() : Optional.of(Codec.pin(repo, tag, v));
  }

  public List<Pin> pins() {
    List<Pin> out = new ArrayList<>();
    index.forEach(Family.PINS, (k, v) -> {
      String[] rt = Codec.splitTagKey(k);
      out.add(Codec.pin(RepositoryName.parse(rt[0]), rt[1], v));
    });
    return out;
  }

  /**
   * The manifests and blobs pinned tags currently point to (what eviction must never touch). A pinned alias
   * protects what it serves: its target digest, or what its target tag points to.
   */
  public Set<Digest> pinnedDigests() {
    Set<Digest> out = new HashSet<>();
    java.util.function.Consumer<ManifestRecord> add = m -> {
      out.add(m.digest());
      out.addAll(m.references());
    };
    for (Pin p : pins()) {
      tag(p.repository(), p.tag()).flatMap(t -> manifest(t.digest())).ifPresent(add);
      alias(p.repository(), p.tag()).flatMap(a -> a.targetDigest() != null ? manifest(a.targetDigest())
          : tag(a.targetRepository(), a.targetTag()).flatMap(t -> manifest(t.digest()))).ifPresent(add);
    }
    return out;
  }

  /** Blobs and manifests the cached tags other than {@code repo:tag} point to. */
  public Set<Digest> digestsOfOtherTags(RepositoryName repo, String tag) {
    Set<Digest> out = new HashSet<>();
    for (TagRecord t : tags()) {
      if (t.repository().equals(repo) && t.tag().equals(tag)) {
        continue;
      }
      manifest(t.digest()).ifPresent(m -> {
        out.add(m.digest());
        out.addAll(m.references());
      });
    }
    return out;
  }

  // ------------------------------------------------------------------ aliases

  public void putAlias(Alias a) {
    index.put(Family.ALIASES, Codec.tagKey(a.repository(), a.tag()), Codec.alias(a));
  }

  /** @return whether there was such an alias */
  public boolean removeAlias(RepositoryName repo, String tag) {
    byte[] key = Codec.tagKey(repo, tag);
    boolean was = index.get(Family.ALIASES, key) != null;
    index.delete(Family.ALIASES, key);
    return was;
  }

  public Optional<Alias> alias(RepositoryName repo, String tag) {
    byte[] v = index.get(Family.ALIASES, Codec.tagKey(repo, tag));
    return v == null ? Optional.empty() : Optional.of(Codec.alias(repo, tag, v));
  }

  public List<Alias> aliases() {
    List<Alias> out = new ArrayList<>();
    index.forEach(Family.ALIASES, (k, v) -> {
      String[] rt = Codec.splitTagKey(k);
      out.add(Codec.alias(RepositoryName.parse(rt[0]), rt[1], v));
    });
    return out;
  }

  // ------------------------------------------------------------------ small settings

  public OptionalLong metaLong(String name) {
    byte[] v = index.get(Family.META, name.getBytes(StandardCharsets.UTF_8));
    return v == null ? OptionalLong.empty() : OptionalLong.of(Codec.sizeHint(v));
  }

  public void putMetaLong(String name, long value) {
    index.put(Family.META, name.getBytes(StandardCharsets.UTF_8), Codec.sizeHint(value));
  }
}
