/**
 * Test doubles for pullmesh, used by other modules at test scope.
 *
 * <ul>
 *   <li>{@link io.pullmesh.testkit.model}: deterministic Ollama-format models (blobs, config, manifest) on disk.
 *   <li>{@link io.pullmesh.testkit.registry}: a fake registry.ollama.ai and its presigned-URL CDN, with the real
 *       registry's quirks, counters and a request log.
 *   <li>{@link io.pullmesh.testkit.fault}: fault rules (drop, stall, corrupt, status, ignore range, delay)
 *       programmable at runtime.
 *   <li>{@link io.pullmesh.testkit.throttle}: the per-connection token bucket and the ticker it reads time from.
 *   <li>{@link io.pullmesh.testkit.client}: an Ollama-like pull client, faithful to {@code ollama serve}'s
 *       downloader, so mirror bugs surface exactly as they would for real Ollama.
 *   <li>{@link io.pullmesh.testkit.http}: a raw HTTP/1.1 client for asserting exact wire formats.
 *   <li>{@link io.pullmesh.testkit.tools}: finding and running curl, aria2c, nginx and skopeo as subprocesses.
 *   <li>{@link io.pullmesh.testkit.Waits}: waiting with a deadline (polling until a condition holds, a Vert.x future's
 *       result); {@link io.pullmesh.testkit.ManualClock}: a clock that moves only when a test moves it.
 * </ul>
 *
 * <p>Everything binds to loopback addresses and ephemeral ports only.
 */
package io.pullmesh.testkit;
