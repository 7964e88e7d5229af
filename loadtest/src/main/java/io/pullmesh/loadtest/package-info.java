/**
 * Benchmarks that run a real pullmesh proxy process against the testkit's throttled fake registry: see
 * {@link io.pullmesh.loadtest.PullBenchmark}. Not tests: nothing here asserts a wall-clock time; the numbers go
 * to {@code docs/benchmarks.md}.
 */
package io.pullmesh.loadtest;
