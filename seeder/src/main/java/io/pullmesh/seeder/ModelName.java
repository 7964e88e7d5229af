package io.pullmesh.seeder;

import io.pullmesh.core.Digest;
import io.pullmesh.core.Reference;
import io.pullmesh.core.RepositoryName;

/**
 * A model as Ollama names it: {@code qwen2.5:7b} is the repository {@code library/qwen2.5} with the tag {@code 7b},
 * {@code user/model} is {@code user/model:latest}. The registry host may be given in front
 * ({@code registry.ollama.ai/library/qwen2.5:7b}) when it is the one the command works with.
 */
public record ModelName(RepositoryName repository, String tag) {
  public static final String DEFAULT_HOST = "registry.ollama.ai";
  public static final String DEFAULT_NAMESPACE = "library";
  public static final String DEFAULT_TAG = "latest";

  /** As {@link #parse(String, String)} for names of {@link #DEFAULT_HOST}. */
  public static ModelName parse(String text) {
    return parse(text, DEFAULT_HOST);
  }

  /**
   * @param host the only registry host a name may carry in front
   * @throws IllegalArgumentException saying what is wrong with the name and what a good one looks like
   */
  public static ModelName parse(String text, String host) {
    String s = text == null ? "" : text.strip();
    String example = " (expected a model name as for ollama pull, e.g. qwen2.5:7b or user/model:tag)";
    if (s.isEmpty()) {
      throw new IllegalArgumentException("empty model name" + example);
    }
    if (s.contains("@") || s.contains(Digest.ALGORITHM + ":")) {
      throw new IllegalArgumentException("'" + s + "' names a digest, not a tag" + example);
    }
    int slash = s.lastIndexOf('/');
    int colon = s.lastIndexOf(':');
    String path = colon > slash ? s.substring(0, colon) : s;
    String tag = colon > slash ? s.substring(colon + 1) : DEFAULT_TAG;
    String[] parts = path.split("/", -1);
    String repo;
    switch (parts.length) {
      case 1 -> repo = DEFAULT_NAMESPACE + "/" + parts[0];
      case 2 -> repo = path;
      case 3 -> {
        if (!parts[0].equalsIgnoreCase(host)) {
          throw new IllegalArgumentException("'" + s + "' names the registry " + parts[0] + ": give the name without a host"
              + " (models come from this node's upstream, " + host + " names are accepted)");
        }
        repo = parts[1] + "/" + parts[2];
      }
      default -> throw new IllegalArgumentException("'" + s + "' has too many '/'" + example);
    }
    RepositoryName r;
    try {
      r = RepositoryName.parse(repo);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("'" + s + "' is not a valid model name" + example);
    }
    try {
      Reference.parse(tag);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("'" + s + "' has an invalid tag '" + tag + "' (letters, digits, _ . -, starting with a letter, digit or _)");
    }
    return new ModelName(r, tag);
  }

  /** The namespace: {@code library} for {@code library/qwen2.5}. */
  public String namespace() {
    String v = repository.value();
    return v.substring(0, v.lastIndexOf('/'));
  }

  /** The model without namespace: {@code qwen2.5} for {@code library/qwen2.5}. */
  public String model() {
    String v = repository.value();
    return v.substring(v.lastIndexOf('/') + 1);
  }

  /** The shortest form Ollama shows: {@code qwen2.5:7b} for the library, else {@code user/model:tag}. */
  @Override
  public String toString() {
    String v = repository.value();
    return (v.startsWith(DEFAULT_NAMESPACE + "/") ? v.substring(DEFAULT_NAMESPACE.length() + 1) : v) + ":" + tag;
  }
}
