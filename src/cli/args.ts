// Command-line parsing shared by the subcommands: node:util parseArgs over the command's flag table, usage errors exit 2.
import { type ParseArgsConfig, parseArgs } from "node:util";
import { parseDuration } from "../config/units.ts";
import { UsageError } from "../errors.ts";
import { type Command, type Flags, usageHint } from "./spec.ts";

export function parse<T extends NonNullable<ParseArgsConfig["options"]> & Flags>(
  argv: string[],
  options: T,
  command: Command,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    // node's messages are long-winded; keep the part that names the problem.
    const message = (e as Error).message
      .replace(/^Unknown option '([^']+)'.*$/s, "unknown option $1")
      .replace(/^Option '(-\w, )?(--[^ ']+) <value>' argument missing$/s, "$2: expected a value")
      .replace(/^Option '(-\w, )?(--[^ ']+)' does not take an argument$/s, "$2 takes no value");
    throw new UsageError(`${message}\n${usageHint(command)}`);
  }
}

export function intFlag(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name}: expected a non-negative integer (got ${value})`);
  return Number(value);
}

/** A duration as the config writes it (`500ms`, `5s`, `2m`); a bare number is `bareUnit` (seconds for `--retry-for`). */
export function durationFlag(
  value: string | undefined,
  name: string,
  bareUnitMs: number,
): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) * bareUnitMs : parseDuration(value);
  if (ms === null) throw new UsageError(`--${name}: expected a duration like 500ms, 5s or 2m (got ${value})`);
  return ms;
}

/** One of the values a flag takes. */
export function choiceFlag<C extends string>(
  value: string | undefined,
  name: string,
  choices: readonly C[],
): C | undefined {
  if (value === undefined || (choices as readonly string[]).includes(value)) return value as C | undefined;
  throw new UsageError(`--${name}: expected ${choices.join(", ")} (got ${value})`);
}

export const clientFlags = {
  server: {
    type: "string",
    arg: "URL",
    help: "the log server (env STROEM_URL, default http://127.0.0.1:8080)",
  },
  token: { type: "string", arg: "TOKEN", help: "bearer token (env STROEM_TOKEN)" },
} as const satisfies Flags;

/** The one job id a read command takes. */
export function oneJob(positionals: string[], command: Command): string {
  const job = positionals[0];
  if (job === undefined || positionals.length > 1)
    throw new UsageError(`expected one job id\n${usageHint(command)}`);
  return job;
}

export const STREAMS = ["stdout", "stderr"] as const;

/** `--stream`: stdout, stderr, or absent. */
export const streamFlag = (value: string | undefined) => choiceFlag(value, "stream", STREAMS);
