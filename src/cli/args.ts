// Command-line parsing shared by the subcommands: node:util parseArgs with usage errors that exit 2.
import { type ParseArgsConfig, parseArgs } from "node:util";
import { UsageError } from "../errors.ts";

export function parse<T extends NonNullable<ParseArgsConfig["options"]>>(
  argv: string[],
  options: T,
  usage: string,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    // node's messages are long-winded; keep the part that names the problem.
    const message = (e as Error).message.replace(/^Unknown option '([^']+)'.*$/s, "unknown option $1");
    throw new UsageError(`${message}\nusage: ${usage}`);
  }
}

export function intFlag(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name}: expected a non-negative integer (got ${value})`);
  return Number(value);
}

export const clientOptions = {
  server: { type: "string" },
  token: { type: "string" },
} as const;

/** The one job id a read command takes. */
export function oneJob(positionals: string[], usage: string): string {
  const job = positionals[0];
  if (job === undefined || positionals.length > 1)
    throw new UsageError(`expected one job id\nusage: ${usage}`);
  return job;
}

/** `--stream`: stdout, stderr, or absent. */
export function streamFlag(value: string | undefined): "stdout" | "stderr" | undefined {
  if (value === undefined || value === "stdout" || value === "stderr") return value;
  throw new UsageError(`--stream: expected stdout or stderr (got ${value})`);
}
