/**
 * What pullmesh measures. {@link io.pullmesh.metrics.MeterNames} holds every meter name (documented in
 * {@code docs/metrics.md}); {@link io.pullmesh.metrics.MetricsRecorder} is the only way code records a
 * measurement, injected where needed, with a Micrometer implementation for the running proxy and a no-op one
 * for code that does not care. Nothing here touches Micrometer's global registry.
 */
package io.pullmesh.metrics;
