/**
 * {@link io.pullmesh.testkit.client.OllamaLikeClient}: a Java re-implementation of how {@code ollama serve}
 * pulls a model (server/images.go and server/download.go), faithful in the details that make or break a
 * mirror: size from the HEAD's {@code Content-Length} only, one direct-URL resolution per blob that stops at
 * the first cross-host redirect, 16 ranged parts that never check for 206, retries with exponential sleeps,
 * stall detection, resumable part files, and a final SHA-256 check.
 * {@link io.pullmesh.testkit.client.XTransferLikeClient} does the same for x/transfer (tensor models).
 */
package io.pullmesh.testkit.client;
