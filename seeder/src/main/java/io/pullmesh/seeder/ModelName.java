package io.pullmesh.seeder;

import io.pullmesh.core.Digest;
import io.pullmesh.core.Reference;
import io.pullmesh.core.RepositoryName;

/**
 * A model as Ollama names it: {@code qwen2.5:7b} is the repository {@code library/qwen2.5} with the tag {@code 7b},
 * {@code user/model} is {@code user/model:latest}. The registry host may be given in front
 * ({@code registry.ollama.ai/library/qwen2.5:7b}) when it is the one the command works with; another registry host
 * ({@code hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M}, {@code modelscope.cn/Qwen/...}) stays in the name, which is
 * then the node's name for that registry's model (RepositoryName keeps such names' capitals), as Ollama writes it.
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
        if (parts[0].equalsIgnoreCase(host)) {
          repo = parts[1] + "/" + parts[2];
        } else if (parts[0].contains(".") && !parts[0].contains(":")) {
          repo = path;
        } else {
          throw new IllegalArgumentException("'" + s + "' names the registry " + parts[0] + ": give the name without a host,"
              + " or with a registry host such as hf.co (" + host + " names are accepted as they are)");
        }
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

  /** A name found under another registry host's directory ({@code manifests/hf.co/<user>/<repo>/<tag>}), qualified by it. */
  public static ModelName qualified(String host, ModelName name) {
    return new ModelName(RepositoryName.parse(host + "/" + name.repository().spelled()), name.tag());
  }

  /** The registry host the name carries ({@code hf.co}), or null for a name of the command's own registry. */
  public String host() {
    return repository.host();
  }

  /** The namespace: {@code library} for {@code library/qwen2.5}, {@code bartowski} for {@code hf.co/bartowski/x}. */
  public String namespace() {
    String v = repository.withoutHost().spelled();
    return v.substring(0, v.lastIndexOf('/'));
  }

  /** The model without namespace: {@code qwen2.5} for {@code library/qwen2.5}. */
  public String model() {
    String v = repository.withoutHost().spelled();
    return v.substring(v.lastIndexOf('/') + 1);
  }

  /** The shortest form Ollama shows: {@code qwen2.5:7b} for the library, else {@code user/model:tag} or {@code host/user/model:tag}. */
  @Override
  public String toString() {
    String v = repository.value();
    return (v.startsWith(DEFAULT_NAMESPACE + "/") ? v.substring(DEFAULT_NAMESPACE.length() + 1) : v) + ":" + tag;
  }
}
