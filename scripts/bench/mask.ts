// Figure: secret masking — lines/s through the masker with 100 secrets vs none and vs one combined RegExp, in the
// server's per-line encoding and ingest path and in the shipper's line splitting (child processes, one core each).

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type BenchOptions, type Figure, fmt, median, runChild, spawnBinary } from "./common.ts";
import type { RateName, Result } from "./mask-run.ts";

export async function benchMask(o: BenchOptions): Promise<Figure> {
  const dir = join(o.dir, "mask");
  mkdirSync(dir, { recursive: true });
  const ms = String(o.quick ? 4000 : 12_000);
  const server = await runChild<Result>("mask-run.ts", ["server", ms, dir]);
  const shipper = await runChild<Result>("mask-run.ts", ["shipper", ms, dir]);
  const http = await throughServer(o, join(dir, "server"));
  const r = { ...server, ...shipper, ratios: { ...server.ratios, ...shipper.ratios } } as Result &
    Record<RateName, number> & { ratios: Record<"mask" | "encode" | "ingest" | "split", number> };
  const lps = (n: number) => `${fmt.int(n)} lines/s`;
  return {
    rows: [
      {
        figure: `mask a line, ${r.secrets} secrets (${r.forms} forms)`,
        value: `${lps(r.mask100)} (${fmt.int((r.mask100 * r.avgChars) / 1e6)} M chars/s)`,
        baseline: `${lps(r.regex100)} (one combined RegExp)`,
        ratio: fmt.ratio(r.ratios.mask),
        target: "—",
        pass: null,
      },
      {
        figure: `encode a stored line + mask, ${r.secrets} secrets`,
        value: lps(r.encode100),
        baseline: `${lps(r.encode0)} (encode, no secrets)`,
        ratio: fmt.ratio(r.ratios.encode),
        target: "—",
        pass: null,
      },
      {
        figure: `ingest path in process (registry.push, 500-line batches) + mask, ${r.secrets} secrets`,
        value: lps(r.ingest100),
        baseline: `${lps(r.ingest0)} (no secrets)`,
        ratio: fmt.ratio(r.ratios.ingest),
        target: "≥ 0.8×",
        pass: r.ratios.ingest >= 0.8,
      },
      {
        figure: `ingest through the server (HTTP, 500-line batches), ${http.secrets} secrets registered`,
        value: `${lps(http.masked.cpu)} per server CPU-s (${lps(http.masked.wall)})`,
        baseline: `${lps(http.plain.cpu)} per server CPU-s (${lps(http.plain.wall)}) (a job without secrets)`,
        ratio: fmt.ratio(http.ratio.cpu),
        target: "≥ 0.8×",
        pass: http.ratio.cpu >= 0.8,
      },
      {
        figure: `shipper: split + mask, ${r.secrets} secrets`,
        value: lps(r.split100),
        baseline: `${lps(r.split0)} (no secrets)`,
        ratio: fmt.ratio(r.ratios.split),
        target: "—",
        pass: null,
      },
    ],
    notes: [
      `mask: ${r.secrets} random secrets of 20–64 characters (1 in 10 with / + =), ${fmt.int(r.lines)} lines of ` +
        `${r.avgChars.toFixed(0)} characters on average (build output, JSON logs, URLs with queries, base64 ` +
        `blobs, stack frames), ${r.maskedLines} of them with a secret; the server-side variants in one child process, the shipper's in another. ` +
        `The masker is built in ${r.buildMs.toFixed(0)} ms. With no secrets a line costs nothing ` +
        `(${lps(r.mask0)}: the masker is the identity). "encode" is encodeLine alone (JSON-encoding the text), ` +
        `the smallest per-line work the server does: the masker's cost shows fully there. "ingest path" is ` +
        `the job registry's push into a real file and SQLite database, each line masked first (as encodeBatch ` +
        `does for a job with secrets) — HTTP and body parsing excluded, so the HTTP ingest ratio is at least ` +
        `this. The RegExp baseline (the forms escaped and joined with |) finds matches but not their union. ` +
        `All variants interleaved in rounds of ~50 ms of CPU time (${r.rounds}+ rounds each): rates are the best ` +
        `round (lines per CPU-second), ratios the median over rounds of the ratio of adjacent rounds. ` +
        `"through the server": the compiled binary, one client process pushing the same lines (2 requests in ` +
        `flight) to a job registered with the ${http.secrets} secrets (PUT secrets) and to one without, in ` +
        `alternating rounds of 250 ms (${http.rounds} each); rates are medians of the server's lines per CPU-second ` +
        `(its /proc time) and, in brackets, per second of wall time; the ratio is the median of paired rounds ` +
        `(wall-time ratio ${fmt.ratio(http.ratio.wall)}).`,
    ],
  };
}

interface HttpRounds {
  plain: Array<{ cpu: number; wall: number }>;
  masked: Array<{ cpu: number; wall: number }>;
  secrets: number;
}

/** The same lines pushed through the real server to a job with secrets and one without (mask-http-client.ts). */
async function throughServer(o: BenchOptions, dir: string) {
  await using server = await spawnBinary({}, dir);
  const r = await runChild<HttpRounds>("mask-http-client.ts", [
    server.url,
    String(server.proc.pid),
    String(o.quick ? 4000 : 12_000),
    "500",
  ]);
  const paired = (f: "cpu" | "wall") => median(r.plain.map((p, i) => r.masked[i]![f] / p[f]));
  const mid = (xs: Array<{ cpu: number; wall: number }>) => ({
    cpu: median(xs.map((x) => x.cpu)),
    wall: median(xs.map((x) => x.wall)),
  });
  return {
    secrets: r.secrets,
    rounds: r.plain.length,
    plain: mid(r.plain),
    masked: mid(r.masked),
    ratio: { cpu: paired("cpu"), wall: paired("wall") },
  };
}
