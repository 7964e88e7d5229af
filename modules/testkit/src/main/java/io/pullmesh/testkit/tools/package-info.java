/**
 * External programs as subprocesses: the generic download clients {@code curl}, {@code aria2c}, {@code nginx} and
 * {@code skopeo}, and {@code prometheus} and {@code promtool} for the dashboards' tests. Finds them on the PATH,
 * runs them with a timeout and captures what they print, and skips (or, in CI with
 * {@code -Dpullmesh.require.tools=true}, fails) a test when one is missing.
 */
package io.pullmesh.testkit.tools;
