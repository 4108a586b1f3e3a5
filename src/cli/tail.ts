// `stroem-logs tail JOB`: follow a job's log through the live stream, resume after a drop, exit by the job's status.

import { formatDuration } from "../config/units.ts";
import { backoff } from "../core/backoff.ts";
import { statusOfReason } from "../protocol/close.ts";
import { clientFlags, durationFlag, intFlag, oneJob, parse, STREAMS, streamFlag } from "./args.ts";
import { type Client, createClient, failOf, ServerError } from "./client.ts";
import { DISPLAY_NOTES, displayFlags, linePrinter } from "./display.ts";
import { exitOnClosedStdout, flushOut } from "./output.ts";
import type { Command, Flags } from "./spec.ts";

const FLAGS = {
  step: { type: "string", arg: "NAME", help: "only this step's lines (_server: the server's events)" },
  stream: { type: "string", choices: STREAMS, help: "only this stream's lines" },
  from: { type: "string", arg: "N", help: "start at line number N (default 0)" },
  "retry-for": {
    type: "string",
    arg: "DURATION",
    help: "give up after this long without a connection (default 60s; a bare number is seconds)",
  },
  ...displayFlags,
  ...clientFlags,
} as const satisfies Flags;

export const tailCommand: Command = {
  name: "tail",
  summary: "follow a job's log live until the job ends (reconnects, never loses a line)",
  args: "JOB",
  positional: "none",
  flags: FLAGS,
  example: 'stroem-logs tail "$JOB" --step build --retry-for 5m',
  notes: `${DISPLAY_NOTES}
Exit codes: 0 when the job completed or was skipped, 1 when it failed or was cancelled, the stream was
refused or lost for --retry-for; 2 usage error; 141 when its output is closed.`,
  run: tail,
};

/** Exit code of `tail` for a job's final status: a job that failed or was cancelled fails the command. */
export function exitCodeFor(status: string): number {
  return status === "completed" || status === "skipped" ? 0 : 1;
}

/** Wait before reconnect attempt `n` (0-based): 100 ms doubling, at most 5 s. */
export const backoffMs = (n: number): number => backoff(n + 1, { initial: 100, max: 5000 });

export interface Position {
  /** The `from` the user asked for. */
  from: number;
  /** Lines printed so far. */
  received: number;
  filtered: boolean;
}

/**
 * Where to reconnect. Unfiltered, the lines received are the line numbers covered, so `from` moves
 * on. Filtered, received lines do not tell how far the log was read: reconnect at the same `from`
 * and drop the first `received` lines again (line numbers never change, so they are the same lines).
 */
export function resumeAt(p: Position): { from: number; skip: number } {
  return p.filtered ? { from: p.from, skip: p.received } : { from: p.from + p.received, skip: 0 };
}

export function streamPath(
  job: string,
  q: { from: number; step?: string | undefined; stream?: string | undefined },
) {
  const params = new URLSearchParams();
  if (q.from > 0) params.set("from", String(q.from));
  if (q.step !== undefined) params.set("step", q.step);
  if (q.stream !== undefined) params.set("stream", q.stream);
  const qs = params.toString();
  return `/api/jobs/${encodeURIComponent(job)}/logs/stream${qs ? `?${qs}` : ""}`;
}

interface Ended {
  opened: boolean;
  code: number;
  reason: string;
}

async function tail(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, FLAGS, tailCommand);
  const job = oneJob(positionals, tailCommand);
  // Every flag is checked before the first connection: a usage error sends nothing.
  const stream = streamFlag(values.stream);
  const print = linePrinter(values);
  const retryForMs = durationFlag(values["retry-for"], "retry-for", 1000) ?? 60_000;
  const pos: Position = {
    from: intFlag(values.from, "from") ?? 0,
    received: 0,
    filtered: values.step !== undefined || stream !== undefined,
  };
  const client = createClient(values);
  exitOnClosedStdout();

  let attempt = 0;
  let lastProgress = Date.now();
  for (;;) {
    const at = resumeAt(pos);
    const path = streamPath(job, { from: at.from, step: values.step, stream: stream });
    let skip = at.skip;
    const end = await follow(client, path, (frame) => {
      const lines = frame.split("\n");
      lines.pop(); // a frame ends with a newline
      const shown = skip > 0 ? lines.slice(Math.min(skip, lines.length)) : lines;
      skip -= lines.length - shown.length;
      if (shown.length === 0) return;
      pos.received += shown.length;
      process.stdout.write(`${shown.map(print).join("\n")}\n`);
    });
    if (end.opened) {
      attempt = 0;
      lastProgress = Date.now();
    }
    const status = end.code === 1000 ? statusOfReason(end.reason) : null;
    if (status !== null) {
      await flushOut();
      if (status !== "completed") process.stderr.write(`stroem-logs tail: job ${job} ${status}\n`);
      return exitCodeFor(status);
    }
    if (end.code === 1011) throw new ServerError(`the server ended the stream: ${end.reason}`);
    if (!end.opened) await refusal(client, path); // a 4xx answer is final; anything else is retried
    if (Date.now() - lastProgress > retryForMs) {
      await flushOut();
      throw new ServerError(
        `lost the stream of job ${job} and could not reconnect for ${formatDuration(retryForMs)}`,
      );
    }
    const wait = backoffMs(attempt++);
    const next = resumeAt(pos);
    process.stderr.write(
      `stroem-logs tail: stream closed (${end.code}${end.reason ? ` ${end.reason}` : ""}); reconnecting from line ${next.from}${next.skip ? ` (skipping ${next.skip} seen)` : ""} in ${wait} ms\n`,
    );
    await Bun.sleep(wait);
  }
}

/** One connection: feeds every text frame to `onFrame` until the socket closes. */
function follow(client: Client, path: string, onFrame: (frame: string) => void): Promise<Ended> {
  const { promise, resolve } = Promise.withResolvers<Ended>();
  const ws = new WebSocket(`${client.base.replace(/^http/, "ws")}${path}`, { headers: client.headers });
  let opened = false;
  ws.addEventListener("open", () => {
    opened = true;
  });
  ws.addEventListener("message", (e) => {
    if (typeof e.data === "string") onFrame(e.data);
  });
  ws.addEventListener("close", (e) => resolve({ opened, code: e.code, reason: e.reason }));
  return promise;
}

/** Asks the same URL over plain HTTP why the upgrade failed: a 4xx other than 426 is the server's final no. */
async function refusal(client: Client, path: string): Promise<void> {
  let res: Response;
  try {
    res = await client.request("GET", path);
  } catch {
    return; // unreachable: retry
  }
  if (res.status >= 400 && res.status < 500 && res.status !== 426 && res.status !== 429)
    throw await failOf(res);
  await res.body?.cancel();
}
