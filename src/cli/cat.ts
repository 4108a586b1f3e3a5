// `stroem-logs cat JOB`: print a job's log (streamed ndjson, so a log of any size), pretty or raw.
import { clientOptions, intFlag, oneJob, parse, streamFlag } from "./args.ts";
import { createClient, failOf } from "./client.ts";
import { prettyLine } from "./format.ts";
import { exitOnClosedStdout, writeOut } from "./output.ts";

const USAGE = "stroem-logs cat JOB [--step S] [--stream stdout|stderr] [--from N] [--tail N] [--raw]";

export async function cat(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      ...clientOptions,
      step: { type: "string" },
      stream: { type: "string" },
      from: { type: "string" },
      tail: { type: "string" },
      raw: { type: "boolean" },
    },
    USAGE,
  );
  const job = oneJob(positionals, USAGE);
  exitOnClosedStdout();
  const stream = streamFlag(values.stream);
  const client = createClient(values);
  const params = new URLSearchParams({ format: "ndjson" });
  const from = intFlag(values.from, "from");
  const tail = intFlag(values.tail, "tail");
  if (from !== undefined) params.set("from", String(from));
  if (tail !== undefined) params.set("tail", String(tail));
  if (stream !== undefined) params.set("stream", stream);
  const path =
    values.step === undefined
      ? `/api/jobs/${encodeURIComponent(job)}/logs`
      : `/api/jobs/${encodeURIComponent(job)}/steps/${encodeURIComponent(values.step)}/logs`;
  const res = await client.request("GET", `${path}?${params}`);
  if (!res.ok) throw await failOf(res);
  const color = process.stdout.isTTY === true;
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of res.body!) {
    const text = rest + decoder.decode(chunk, { stream: true });
    const lines = text.split("\n");
    rest = lines.pop()!;
    if (lines.length > 0)
      await writeOut(
        values.raw ? `${lines.join("\n")}\n` : `${lines.map((l) => prettyLine(l, color)).join("\n")}\n`,
      );
  }
  if (rest.length > 0) await writeOut(values.raw ? `${rest}\n` : `${prettyLine(rest, color)}\n`);
  return 0;
}
