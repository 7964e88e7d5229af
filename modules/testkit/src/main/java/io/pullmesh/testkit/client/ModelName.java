package io.pullmesh.testkit.client;

import io.pullmesh.core.Reference;
import io.pullmesh.core.RepositoryName;

/**
 * A model name without a host, as {@code ollama pull} takes it: {@code [namespace/]model[:tag]}, namespace
 * {@code library} and tag {@code latest} by default. Kept as written: Ollama's types/model/name.go never lower-cases a
 * name (it compares names with {@code EqualFold}, name.go:309-314), so a registry is asked for exactly what the user
 * typed ({@code bartowski/Tiny-GGUF}); case-sensitive registries such as Hugging Face depend on it.
 */
public record ModelName(String namespace, String model, String tag) {

  public static ModelName parse(String text) {
    if (text == null || text.isBlank()) {
      throw new IllegalArgumentException("model name: empty (expected: [namespace/]model[:tag])");
    }
    String rest = text.strip();
    String tag = "latest";
    int colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
      tag = rest.substring(colon + 1);
      rest = rest.substring(0, colon);
    }
    String[] parts = rest.split("/", -1);
    if (parts.length > 2) {
      throw new IllegalArgumentException("model name: " + text + " (expected: [namespace/]model[:tag], no host)");
    }
    String namespace = parts.length == 2 ? parts[0] : "library";
    String model = parts[parts.length - 1];
    RepositoryName.parse(namespace + "/" + model);
    Reference ref = Reference.parse(tag);
    if (ref.isDigest()) {
      throw new IllegalArgumentException("model name: " + text + " (expected a tag, not a digest)");
    }
    return new ModelName(namespace, model, tag);
  }

  /** {@code namespace/model}, as in {@code /v2/<name>/...}. */
  public String repository() {
    return namespace + "/" + model;
  }

  @Override
  public String toString() {
    return repository() + ":" + tag;
  }
}
