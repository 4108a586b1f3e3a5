// Figures: a step of a big log through ?format=ndjson (MB/s, peak RSS) and cursor reads deep into it.
import { linkSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { drainCount } from "../../test/support/biglog.ts";
import {
  type BenchOptions,
  type Figure,
  fmt,
  MiB,
  median,
  postJson,
  runChild,
  spawnBinary,
} from "./common.ts";

export interface BigLog {
  path: string;
  size: number;
  lines: number;
  rare: number;
}

async function timeJson(url: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url);
  const body = (await res.json()) as { logs: string };
  if (!res.ok || body.logs.split("\n").length !== 101)
    throw new Error(`read ${url}: ${res.status}, not 100 lines`);
  return performance.now() - t0;
}

export async function benchRead(o: BenchOptions, log: BigLog): Promise<Figure> {
  const dir = join(o.dir, "read");
  mkdirSync(join(dir, "logs"), { recursive: true });
  // The server finds the log through a hard link: registering the job adopts it (lines counted, sparse index built).
  linkSync(log.path, join(dir, "logs", "big.jsonl"));
  await using server = await spawnBinary({}, dir);
  await postJson(`${server.url}/api/jobs/big`, { workspace: "bench", task: "read" }, "PUT");

  const rounds = o.quick ? 1 : 2;
  let best = Number.POSITIVE_INFINITY;
  let gzBest = Number.POSITIVE_INFINITY;
  let baseBest = Number.POSITIVE_INFINITY;
  let baseRss = 0;
  for (let r = 0; r < rounds; r++) {
    const base = await runChild<{ ms: number; matched: number; rss: number }>("scan-baseline.ts", [
      log.path,
      "rare",
    ]);
    if (base.matched !== log.rare)
      throw new Error(`scan baseline found ${base.matched} lines, expected ${log.rare}`);
    baseBest = Math.min(baseBest, base.ms);
    baseRss = Math.max(baseRss, base.rss);
    // Uncompressed, like the baseline (fetch asks for gzip by default); then as a browser asks for it.
    for (const encoding of ["identity", "gzip, deflate, br"]) {
      const t0 = performance.now();
      const url = `${server.url}/api/jobs/big/steps/rare/logs?format=ndjson`;
      const got = await drainCount(await fetch(url, { headers: { "accept-encoding": encoding } }));
      const ms = performance.now() - t0;
      if (encoding === "identity") best = Math.min(best, ms);
      else gzBest = Math.min(gzBest, ms);
      if (got.lines !== log.rare)
        throw new Error(`ndjson read returned ${got.lines} lines, expected ${log.rare}`);
    }
  }
  const rss = server.peakRss();
  const rate = log.size / MiB / (best / 1000);
  const gzRate = log.size / MiB / (gzBest / 1000);
  const baseRate = log.size / MiB / (baseBest / 1000);

  // Cursor reads: each kind 15 times, interleaved, median.
  const deep = Math.min(9_000_000, Math.floor(log.lines * 0.93));
  const times: Record<"first" | "tail" | "deep", number[]> = { first: [], tail: [], deep: [] };
  for (let i = 0; i < (o.quick ? 7 : 15); i++) {
    times.first.push(await timeJson(`${server.url}/api/jobs/big/logs?limit=100`));
    times.tail.push(await timeJson(`${server.url}/api/jobs/big/logs?tail=100`));
    times.deep.push(await timeJson(`${server.url}/api/jobs/big/logs?from=${deep}&limit=100`));
  }
  const first = median(times.first);
  const tail = median(times.tail);
  const deepMs = median(times.deep);
  const gb = (log.size / 1024 ** 3).toFixed(2);
  return {
    rows: [
      {
        figure: `read a step of a ${gb} GB log, ndjson`,
        value: `${fmt.int(rate)} MB/s, ${fmt.mb(rss)} MB RSS`,
        baseline: `${fmt.int(baseRate)} MB/s, ${fmt.mb(baseRss)} MB RSS`,
        ratio: fmt.ratio(rate / baseRate),
        target: "≥ 0.7×, RSS ≤ 128 MB",
        pass: rate / baseRate >= 0.7 && rss <= 128 * MiB,
      },
      {
        figure: `read a step of a ${gb} GB log, ndjson, gzip-compressed (Accept-Encoding as a browser sends it)`,
        value: `${fmt.int(gzRate)} MB/s`,
        baseline: `${fmt.int(baseRate)} MB/s (uncompressed scan)`,
        ratio: fmt.ratio(gzRate / baseRate),
        target: "—",
        pass: null,
      },
      {
        figure: `read last 100 lines of ${gb} GB`,
        value: `${fmt.ms(tail)} ms`,
        baseline: `${fmt.ms(first)} ms (first 100)`,
        ratio: fmt.ratio(tail / first),
        target: "≤ 2× first 100",
        pass: tail <= 2 * first,
      },
      {
        figure: `read 100 lines from line ${fmt.int(deep)}`,
        value: `${fmt.ms(deepMs)} ms`,
        baseline: `${fmt.ms(first)} ms (first 100)`,
        ratio: fmt.ratio(deepMs / first),
        target: "≤ 2× first 100",
        pass: deepMs <= 2 * first,
      },
    ],
    notes: [
      `read: a ${gb} GB log of ${fmt.int(log.lines)} lines (1 in 100 in step "rare"), written to disk and adopted ` +
        "by registering the job (PUT /api/jobs/big builds the sparse index); the file is in the page cache for " +
        `both sides. ndjson: best of ${rounds}, the bench process drains the response, asked uncompressed (like the baseline) and then gzip-compressed (the server compresses ndjson for a client that accepts it). Baseline: a child process ` +
        "streaming Bun.file().stream(), decoding, splitting lines, substring pre-check then JSON.parse of candidates. " +
        "Cursor reads: JSON responses over HTTP, median of interleaved runs.",
    ],
  };
}
