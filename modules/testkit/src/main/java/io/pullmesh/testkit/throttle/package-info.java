/**
 * Bandwidth limiting for the fake servers: a token bucket per TCP connection, fed by an injectable
 * {@link io.pullmesh.testkit.throttle.Ticker} so its arithmetic is tested without waiting.
 */
package io.pullmesh.testkit.throttle;
