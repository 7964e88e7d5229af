/**
 * External programs as subprocesses: find {@code curl}, {@code aria2c}, {@code nginx}, {@code skopeo} and
 * {@code docker-registry}, and {@code prometheus} and {@code promtool} for the dashboards' tests, on the PATH, run
 * them with a timeout and capture what they print, and skip (or, in CI with {@code -Dpullmesh.require.tools=true},
 * fail) a test when one is missing.
 */
package io.pullmesh.testkit.tools;
