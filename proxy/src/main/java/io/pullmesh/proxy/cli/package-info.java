/**
 * The jar's commands besides serving: {@link io.pullmesh.proxy.cli.AdminCli} ({@code admin <command>}, a client of
 * a running proxy's admin API, with tables, {@code --json} and progress bars) and
 * {@link io.pullmesh.proxy.cli.VerifyCommand} ({@code verify}, offline re-hashing of a stopped proxy's cache).
 */
package io.pullmesh.proxy.cli;
