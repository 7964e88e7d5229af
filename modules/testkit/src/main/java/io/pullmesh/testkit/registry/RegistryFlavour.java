package io.pullmesh.testkit.registry;

/**
 * Which real registry a {@link FakeRegistry} stands for. All three speak the same {@code /v2} API to Ollama; they
 * differ in where a blob GET is redirected (docs/protocol.md, "Hugging Face" and "ModelScope").
 */
public enum RegistryFlavour {
  /** registry.ollama.ai: blob GET 307 to a presigned Cloudflare R2 URL on the CDN. */
  OLLAMA,
  /**
   * hf.co: blob GET 307 to {@code <hub>/v2/<user>/<repo>/blobs/<digest>?__sign=<JWT>} on another host (the hub,
   * standing for huggingface.co), which answers 302 to a presigned CDN URL (cas-bridge.xethub.hf.co for Xet
   * storage, cdn-lfs*.hf.co for LFS). See {@link FakeRegistry.Builder#huggingFace()}.
   */
  HUGGING_FACE,
  /**
   * modelscope.cn: blob GET 307 to {@code <hub>/v2/<user>/<model>/blobs/download/<digest>} (the hub standing for
   * ollama.modelscope.cn), which serves the blob itself. See {@link FakeRegistry.Builder#modelScope()}.
   */
  MODEL_SCOPE
}
