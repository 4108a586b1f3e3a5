#!/usr/bin/env bun
// Entry point of the single binary: dispatches to the subcommands of the command table; maps errors to exit codes.
import { ServerError } from "./cli/client.ts";
import { COMMANDS } from "./cli/commands.ts";
import { helpOf, topHelp } from "./cli/spec.ts";
import { UsageError } from "./errors.ts";
import { VERSION } from "./version.ts";

/** `--help`/`-h` among the command's own arguments (not after `--`, where they belong to run's command). */
const asksHelp = (argv: string[]): boolean => {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h");
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-V" || name === "version") {
    process.stdout.write(`stroem-logs ${VERSION}\n`);
    return 0;
  }
  if (name === undefined) {
    // No command is a usage error: the help goes where errors go, and the exit code says so.
    process.stderr.write(topHelp(COMMANDS));
    return 2;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    const about = name === "help" ? rest[0] : undefined;
    const command = about === undefined ? undefined : COMMANDS.find((c) => c.name === about);
    if (about !== undefined && command === undefined) {
      process.stderr.write(`stroem-logs: unknown command ${about}\n\n${topHelp(COMMANDS)}`);
      return 2;
    }
    process.stdout.write(command ? helpOf(command) : topHelp(COMMANDS));
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`stroem-logs: unknown command ${name}\n\n${topHelp(COMMANDS)}`);
    return 2;
  }
  if (asksHelp(rest)) {
    process.stdout.write(helpOf(command));
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`stroem-logs ${name}: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof ServerError) {
      process.stderr.write(`stroem-logs ${name}: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`stroem-logs ${name}: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
