package io.pullmesh.testkit.model;

/** The media types that appear in Ollama manifests. */
public final class MediaTypes {
  private MediaTypes() {}

  public static final String MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json";
  public static final String CONFIG = "application/vnd.docker.container.image.v1+json";
  public static final String MODEL = "application/vnd.ollama.image.model";
  public static final String TEMPLATE = "application/vnd.ollama.image.template";
  public static final String SYSTEM = "application/vnd.ollama.image.system";
  public static final String PARAMS = "application/vnd.ollama.image.params";
  public static final String LICENSE = "application/vnd.ollama.image.license";
  public static final String PROJECTOR = "application/vnd.ollama.image.projector";
  public static final String ADAPTER = "application/vnd.ollama.image.adapter";
  public static final String MESSAGES = "application/vnd.ollama.image.messages";
  /** A safetensors tensor layer (manifest/layer.go:22): a model with one is pulled by x/transfer (server/images.go:1041). */
  public static final String TENSOR = "application/vnd.ollama.image.tensor";
}
