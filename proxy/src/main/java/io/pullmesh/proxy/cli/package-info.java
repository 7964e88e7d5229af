/**
 * The jar's command lines on picocli. {@link io.pullmesh.proxy.cli.OptionDef} defines an option once (name, value,
 * environment variable, default, help) and {@link io.pullmesh.proxy.cli.CliSpec} makes the picocli option, the usage
 * layout and pullmesh's error messages from it; {@link io.pullmesh.proxy.cli.OptionTable} makes the README's option
 * table and {@link io.pullmesh.proxy.cli.CompletionCommand} the bash/zsh completion script from the same definitions.
 * The commands besides serving: {@link io.pullmesh.proxy.cli.AdminCli} ({@code admin <command>}, a client of a running
 * proxy's admin API, with tables, {@code --json} and progress bars), {@link io.pullmesh.proxy.cli.VerifyCommand}
 * ({@code verify}, offline re-hashing of a stopped proxy's cache) and {@link io.pullmesh.proxy.cli.CaCommand}
 * ({@code ca print|rotate}).
 */
package io.pullmesh.proxy.cli;
