// `stroem-logs cat JOB`: print a job's log (streamed ndjson, so a log of any size), pretty or raw.
import { clientFlags, intFlag, oneJob, parse, STREAMS, streamFlag } from "./args.ts";
import { createClient, failOf } from "./client.ts";
import { DISPLAY_NOTES, displayFlags, linePrinter } from "./display.ts";
import { exitOnClosedStdout, writeOut } from "./output.ts";
import type { Command, Flags } from "./spec.ts";

const FLAGS = {
  step: { type: "string", arg: "NAME", help: "only this step's lines (_server: the server's events)" },
  stream: { type: "string", choices: STREAMS, help: "only this stream's lines" },
  from: { type: "string", arg: "N", help: "start at line number N (default 0)" },
  tail: { type: "string", arg: "N", help: "only the last N lines (of the filtered view)" },
  ...displayFlags,
  ...clientFlags,
} as const satisfies Flags;

export const catCommand: Command = {
  name: "cat",
  summary: "print a job's log (streamed: a log of any size)",
  args: "JOB",
  positional: "none",
  flags: FLAGS,
  example: 'stroem-logs cat "$JOB" --step build --tail 50',
  notes: DISPLAY_NOTES,
  run: cat,
};

async function cat(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, FLAGS, catCommand);
  const job = oneJob(positionals, catCommand);
  // Every flag is checked before the first request: a usage error sends nothing.
  const stream = streamFlag(values.stream);
  const print = linePrinter(values);
  const from = intFlag(values.from, "from");
  const tail = intFlag(values.tail, "tail");
  const client = createClient(values);
  exitOnClosedStdout();
  const params = new URLSearchParams({ format: "ndjson" });
  if (from !== undefined) params.set("from", String(from));
  if (tail !== undefined) params.set("tail", String(tail));
  if (stream !== undefined) params.set("stream", stream);
  const path =
    values.step === undefined
      ? `/api/jobs/${encodeURIComponent(job)}/logs`
      : `/api/jobs/${encodeURIComponent(job)}/steps/${encodeURIComponent(values.step)}/logs`;
  const res = await client.request("GET", `${path}?${params}`);
  if (!res.ok) throw await failOf(res);
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of res.body!) {
    const text = rest + decoder.decode(chunk, { stream: true });
    const lines = text.split("\n");
    rest = lines.pop()!;
    if (lines.length > 0)
      await writeOut(values.raw ? `${lines.join("\n")}\n` : `${lines.map(print).join("\n")}\n`);
  }
  if (rest.length > 0) await writeOut(values.raw ? `${rest}\n` : `${print(rest)}\n`);
  return 0;
}
