/**
 * The pullmesh proxy: command line and configuration ({@link io.pullmesh.proxy.ProxyConfig}), the HTTP
 * server speaking the registry API that Ollama pulls through ({@link io.pullmesh.proxy.PullmeshProxy}), blob
 * and manifest handlers, and the wiring of store, fetcher and metrics into one runnable jar.
 */
package io.pullmesh.proxy;
