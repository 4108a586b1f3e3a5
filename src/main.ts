#!/usr/bin/env bun
// Entry point of the single binary: dispatches to the subcommands; maps errors to exit codes.
import { cat } from "./cli/cat.ts";
import { checkConfig } from "./cli/check-config.ts";
import { ServerError } from "./cli/client.ts";
import { complete } from "./cli/complete.ts";
import { push } from "./cli/push.ts";
import { run } from "./cli/run.ts";
import { serve } from "./cli/serve.ts";
import { tail } from "./cli/tail.ts";
import { UsageError } from "./errors.ts";
import { VERSION } from "./version.ts";

const HELP = `stroem-logs ${VERSION} — job logs for the Strøm workflow orchestrator

usage:
  stroem-logs serve [--config FILE] [--listen HOST:PORT]   run the log server
  stroem-logs check-config FILE [--connect]                 validate a config and print it; --connect tests the archive
  stroem-logs cat JOB [--step S] [--stream S] [--from N] [--tail N] [--raw]
  stroem-logs complete JOB --status S [--error MSG]
  stroem-logs tail JOB [--step S] [--stream S] [--from N] [--raw]
                                                            follow the live stream until the job ends
  stroem-logs run --job ID --step NAME [--complete] [--spool DIR] [--quiet] -- CMD [ARGS...]
                                                            run a step, ship its output
  stroem-logs push --job ID --step NAME [--stream stdout|stderr]   ship the lines of stdin
  stroem-logs --version

client commands take --server URL (env STROEM_URL, default http://127.0.0.1:8080)
and --token TOKEN (env STROEM_TOKEN).
exit codes: 0 ok, 1 the server said no or failed, 2 usage or config error.
run exits with the command's code (128+N when killed by signal N; 127 not found, 126 not runnable),
or 125 when the command succeeded but some of its output could not be delivered.
`;

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  serve,
  "check-config": checkConfig,
  cat,
  complete,
  tail,
  run,
  push,
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-V" || name === "version") {
    process.stdout.write(`stroem-logs ${VERSION}\n`);
    return 0;
  }
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(HELP);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`stroem-logs: unknown command ${name}\n\n${HELP}`);
    return 2;
  }
  try {
    return await command(rest);
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
