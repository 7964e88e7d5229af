/**
 * A fake registry.ollama.ai and its Cloudflare R2 CDN, started together by {@link
 * io.pullmesh.testkit.registry.FakeRegistry}: two Vert.x HTTP servers on loopback (the registry on 127.0.0.1,
 * the CDN on 127.0.0.2, a different host name), with the real registry's quirks (404 on {@code /v2/},
 * chunked {@code text/plain} manifests, 307 to a presigned URL), optional bearer auth, per-connection
 * throttling, fault injection and counters for assertions. Options reproduce more of the real world: the
 * version gate (412 to clients older than a model needs, {@link io.pullmesh.testkit.registry.FakeRegistry#gate}),
 * Hugging Face's token wall (429), case-sensitive names, and the Hugging Face and ModelScope flavours, which add a
 * third server, the hub on 127.0.0.3 ({@link io.pullmesh.testkit.registry.RegistryFlavour}).
 *
 * <p>Handlers run on event loops and never block: blob bodies are read with {@link io.vertx.core.file.AsyncFile}
 * in chunks (never a whole file in memory) and written with back-pressure.
 *
 * <p>For a real OCI upstream instead of a fake one: {@link io.pullmesh.testkit.registry.DistributionRegistry}
 * runs the CNCF distribution registry ({@code docker-registry}) as a subprocess (optionally with htpasswd auth or
 * blob GETs redirected to {@link io.pullmesh.testkit.registry.StorageFileServer}), {@link
 * io.pullmesh.testkit.registry.RegistryPusher} pushes a model into it through the upload API, and {@link
 * io.pullmesh.testkit.registry.AccessLogEntry} reads its access log. These are blocking helpers for test threads.
 */
package io.pullmesh.testkit.registry;
