/**
 * Deterministic Ollama-format models for tests: layer blobs of chosen sizes filled from a seed, a config
 * blob, and the manifest bytes exactly as registry.ollama.ai serves them. {@link
 * io.pullmesh.testkit.model.ModelFixture} writes them to disk; {@link io.pullmesh.testkit.model.FakeModel}
 * describes the result.
 */
package io.pullmesh.testkit.model;
