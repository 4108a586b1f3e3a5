// The flags `run` and `push` share: job, step, spool, batching and retry limits, validated into ShipOptions.
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { parseDuration, parseSize } from "../config/units.ts";
import { UsageError } from "../errors.ts";
import { JOB_ID, JOB_ID_EXPECTED, StepName } from "../protocol/ids.ts";
import { SERVER_STEP } from "../protocol/line.ts";
import { MASK_USAGE, maskerFrom, maskFlags } from "./mask-source.ts";
import type { ShipOptions } from "./ship.ts";

export const shipFlags = {
  job: { type: "string" },
  step: { type: "string" },
  spool: { type: "string" },
  "spool-max": { type: "string" },
  "flush-interval": { type: "string" },
  "drain-timeout": { type: "string" },
  "batch-max": { type: "string" },
  "max-line": { type: "string" },
  "retry-max": { type: "string" },
  "request-timeout": { type: "string" },
  quiet: { type: "boolean" },
  ...maskFlags,
} as const;

export const SHIP_USAGE =
  "--job ID --step NAME [--spool DIR] [--spool-max SIZE] [--flush-interval DURATION] " +
  "[--drain-timeout DURATION] [--batch-max SIZE] [--max-line SIZE] [--retry-max DURATION] " +
  "[--request-timeout DURATION] [--quiet] [--server URL] [--token TOKEN] " +
  MASK_USAGE;

type Values = {
  [K in keyof typeof shipFlags]?: (typeof shipFlags)[K] extends { multiple: true }
    ? string[]
    : (typeof shipFlags)[K]["type"] extends "boolean"
      ? boolean
      : string;
};

export const defaultSpoolRoot = (env: Record<string, string | undefined> = process.env): string =>
  env.STROEM_SPOOL ?? join(tmpdir(), `stroem-logs-spool-${process.getuid?.() ?? "user"}`);

export function shipOptions(
  values: Values,
  client: { base: string; headers: Record<string, string> },
  command: string,
  usage: string,
): ShipOptions {
  const job = values.job;
  const step = values.step;
  if (job === undefined) throw new UsageError(`--job is required\nusage: ${usage}`);
  if (step === undefined) throw new UsageError(`--step is required\nusage: ${usage}`);
  if (!JOB_ID.test(job)) {
    throw new UsageError(`--job: invalid job id ${JSON.stringify(job)}: ${JOB_ID_EXPECTED}`);
  }
  const checked = v.safeParse(StepName, step);
  if (!checked.success) throw new UsageError(`--step: ${checked.issues[0].message}`);
  if (step === SERVER_STEP) throw new UsageError(`--step: "${SERVER_STEP}" is reserved for server events`);
  const maxLineBytes = size(values["max-line"], "max-line", 1024 * 1024, 64);
  const maxBodyBytes = size(values["batch-max"], "batch-max", 8 * 1024 * 1024, 64 * 1024);
  const masker = maskerFrom(values, (m) => process.stderr.write(`stroem-logs ${command}: ${m}\n`));
  return {
    base: client.base,
    headers: client.headers,
    job,
    step,
    spoolRoot: values.spool ?? defaultSpoolRoot(),
    spoolMax: size(values["spool-max"], "spool-max", 256 * 1024 * 1024, 1),
    flushIntervalMs: duration(values["flush-interval"], "flush-interval", 10),
    drainTimeoutMs: duration(values["drain-timeout"], "drain-timeout", 60_000),
    maxBodyBytes,
    maxLineBytes,
    partialFlushMs: 1000,
    requestTimeoutMs: duration(values["request-timeout"], "request-timeout", 30_000, 1),
    retryMaxMs: duration(values["retry-max"], "retry-max", 5000, 1),
    command,
    masker,
    resumeHint: `stroem-logs push --job ${job} --step ${shellQuote(step)}${values.spool ? ` --spool ${shellQuote(values.spool)}` : ""} </dev/null`,
  };
}

function size(text: string | undefined, flag: string, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const n = parseSize(text);
  if (n === null) throw new UsageError(`--${flag}: expected a size like 1048576 or 1MiB (got ${text})`);
  if (n < min) throw new UsageError(`--${flag}: must be at least ${min} bytes (got ${n})`);
  return n;
}

function duration(text: string | undefined, flag: string, fallback: number, min = 0): number {
  if (text === undefined) return fallback;
  const n = parseDuration(text);
  if (n === null) throw new UsageError(`--${flag}: expected a duration like 200ms, 10s or 1m (got ${text})`);
  if (n < min) throw new UsageError(`--${flag}: must be at least ${min} ms (got ${n})`);
  return n;
}

const shellQuote = (s: string): string => (/^[\w./:@-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`);
