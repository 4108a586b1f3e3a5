// Figures: a big log archived to a local S3 server (s3rver in this process) vs `gzip -6` of the same file;
// 100-line reads of the archived log with Range GETs vs the same reads through the whole object.
import { linkSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseIndex } from "../../src/archive/seek-index.ts";
import type { ServerProcess } from "../../test/support/process.ts";
import { startS3Process, type TestS3 } from "../../test/support/s3.ts";
import { type BenchOptions, type Figure, fmt, MiB, median, postJson, spawnBinary, until } from "./common.ts";
import type { BigLog } from "./read.ts";

interface ArchiveView {
  key: string;
  state: string;
  bytes: number;
  log_bytes: number;
}

async function gzipMs(path: string): Promise<number> {
  const t0 = performance.now();
  const proc = Bun.spawn(["bash", "-c", 'exec gzip -6 -c "$0" > /dev/null', path], { stderr: "inherit" });
  if ((await proc.exited) !== 0) throw new Error("gzip -6 failed");
  return performance.now() - t0;
}

export async function benchArchive(o: BenchOptions, log: BigLog): Promise<Figure> {
  await using s3 = await startS3Process();
  const dir = join(o.dir, "archive");
  mkdirSync(join(dir, "logs"), { recursive: true });
  linkSync(log.path, join(dir, "logs", "big.jsonl"));
  const config = { log_storage: { archive: s3.archive() } };
  const server = await spawnBinary(config, dir);
  await postJson(`${server.url}/api/jobs/big`, { workspace: "bench", task: "archive" }, "PUT");

  const base = await gzipMs(log.path);
  const t0 = performance.now();
  await postJson(`${server.url}/worker/jobs/big/complete`, { status: "completed" });
  const view = await until(
    "the archive to be uploaded and verified",
    async () => {
      const j = (await (await fetch(`${server.url}/api/jobs/big`)).json()) as { archive: ArchiveView | null };
      return j.archive?.state === "uploaded" ? j.archive : undefined;
    },
    300_000,
    25,
  );
  const ms = performance.now() - t0;
  if (view.log_bytes !== log.size) throw new Error(`archive holds ${view.log_bytes} bytes of ${log.size}`);
  const rss = server.peakRss();
  // Each read phase on a fresh server: its peak RSS is the reads', and it has no parsed index yet.
  let running: ServerProcess = server;
  const reads = await archivedReads(o, log, s3, view.key, dir, server.url, async () => {
    await running[Symbol.asyncDispose]();
    running = await spawnBinary(config, dir);
    return running;
  }).finally(() => running[Symbol.asyncDispose]());
  const rate = log.size / MiB / (ms / 1000);
  const baseRate = log.size / MiB / (base / 1000);
  const gb = (log.size / 1024 ** 3).toFixed(2);
  return {
    rows: [
      {
        figure: `archive ${gb} GB to local S3`,
        value: `${fmt.int(rate)} MB/s, ${fmt.mb(rss)} MB RSS`,
        baseline: `${fmt.int(baseRate)} MB/s (gzip -6)`,
        ratio: fmt.ratio(rate / baseRate),
        target: "≥ 1.5×, RSS ≤ 256 MB",
        pass: rate / baseRate >= 1.5 && rss <= 256 * MiB,
      },
      ...reads.rows,
    ],
    notes: [
      ...reads.notes,
      `archive: from POST …/complete to the archive verified (one gzip member, multipart upload, the index, SHA-256 read-back of both), ${(view.bytes / 1e6).toFixed(0)} MB ` +
        `gzip (${(log.size / view.bytes).toFixed(1)}×); s3rver (its own process) competes for the ` +
        "same 2 cores. Baseline: `gzip -6 -c FILE > /dev/null` of the same file, page cache warm.",
    ],
  };
}

interface ReadTimes {
  tail: number;
  deep: number;
}

/** One 100-line read over HTTP: its time, checked to be 100 lines from `from` when given. */
async function timed(url: string, from?: number): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url);
  const body = (await res.json()) as { logs: string; from: number; source: string };
  if (
    !res.ok ||
    body.logs.split("\n").length !== 101 ||
    body.source !== "archive" ||
    (from !== undefined && body.from !== from)
  )
    throw new Error(
      `read ${url}: ${res.status} ${JSON.stringify(body).slice(0, 200)}, not 100 archived lines`,
    );
  return performance.now() - t0;
}

/**
 * The last 100 lines and 100 lines deep into the archived log: from the local file (before it is removed),
 * with Range GETs and the index, and through the whole object (the index removed, a fresh server: parsed
 * indexes are kept per upload), each in the same run.
 */
async function archivedReads(
  o: BenchOptions,
  log: BigLog,
  s3: TestS3,
  key: string,
  dir: string,
  localUrl: string,
  restart: () => Promise<ServerProcess>,
): Promise<{ rows: Figure["rows"]; notes: string[] }> {
  const deep = Math.min(9_000_000, Math.floor(log.lines * 0.93));
  const paths = { tail: "/api/jobs/big/logs?tail=100", deep: `/api/jobs/big/logs?from=${deep}&limit=100` };
  const rounds = o.quick ? 11 : 31;
  // A server that has answered reads for a while: the first reads of a fresh process compile the code
  // they run (the archived path runs more of it: the SDK, zlib). Each phase warms up the same way, unmeasured.
  const warm = 50;
  const series = async (base: string, n: number, w = warm): Promise<ReadTimes> => {
    const t: Record<keyof ReadTimes, number[]> = { tail: [], deep: [] };
    for (let i = 0; i < w + n; i++) {
      const tail = await timed(`${base}${paths.tail}`);
      const d = await timed(`${base}${paths.deep}`, deep);
      if (i < w) continue;
      t.tail.push(tail);
      t.deep.push(d);
    }
    return { tail: median(t.tail), deep: median(t.deep) };
  };
  // The local file first (the server reads it while it exists), then the archive.
  const local = await (async () => {
    const t: Record<keyof ReadTimes, number[]> = { tail: [], deep: [] };
    for (let i = 0; i < warm + rounds; i++) {
      for (const k of ["tail", "deep"] as const) {
        const t0 = performance.now();
        const res = await fetch(`${localUrl}${paths[k]}`);
        const body = (await res.json()) as { source: string };
        if (body.source !== "local") throw new Error(`local read answered from ${body.source}`);
        if (i >= warm) t[k].push(performance.now() - t0);
      }
    }
    return { tail: median(t.tail), deep: median(t.deep) };
  })();
  rmSync(join(dir, "logs", "big.jsonl"));
  const server = await restart();
  const url = server.url;
  const bytesOf = (from: number) =>
    s3.requests.slice(from).filter((r) => r.method === "GET" && r.path === `/${s3.bucket}/${key}`);
  // One unmeasured read fetches and parses the index (kept for this upload); then each kind alone, counted.
  await timed(`${url}${paths.tail}`);
  let at = s3.requests.length;
  await timed(`${url}${paths.tail}`);
  const tailGets = bytesOf(at);
  at = s3.requests.length;
  await timed(`${url}${paths.deep}`, deep);
  const deepGets = bytesOf(at);
  const ranged = await series(url, rounds);
  const rangedRss = server.peakRss();
  const index = (await s3.getRaw(`${key}.idx`))!.bytes;
  const blocks = parseIndex(index).blocks;
  const maxBlock = Math.max(...blocks.map((b) => b.end - b.start));
  // Without the index the same reads go through the whole object, as archives of earlier versions do.
  await s3.remove(`${key}.idx`);
  const fresh = await restart();
  const whole = await series(fresh.url, o.quick ? 1 : 3, 0);
  const wholeRss = fresh.peakRss();
  const gb = (log.size / 1024 ** 3).toFixed(2);
  const kb = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
  const sum = (g: { bytes: number }[]) => g.reduce((a, r) => a + r.bytes, 0);
  const row = (what: string, k: keyof ReadTimes, gets: { bytes: number }[]) => [
    {
      figure: `${what} of the archived ${gb} GB log (HTTP, S3 Range GETs)`,
      value: `${fmt.ms(ranged[k])} ms, ${gets.length} GET, ${kb(sum(gets))}, ${fmt.mb(rangedRss)} MB RSS`,
      baseline: `${fmt.ms(whole[k])} ms, ${fmt.mb(wholeRss)} MB RSS (whole object, no index)`,
      ratio: fmt.ratio(ranged[k] / whole[k]),
      target: "≤ 2 blocks fetched, RSS ≤ 128 MB",
      pass: sum(gets) <= 2 * maxBlock && rangedRss <= 128 * MiB,
    },
    {
      figure: `${what} of the archived ${gb} GB log vs the local file`,
      value: `${fmt.ms(ranged[k])} ms`,
      baseline: `${fmt.ms(local[k])} ms (local JSONL)`,
      ratio: fmt.ratio(ranged[k] / local[k]),
      target: "≤ 5×",
      pass: ranged[k] <= 5 * local[k],
    },
  ];
  return {
    rows: [
      ...row("last 100 lines", "tail", tailGets),
      ...row(`100 lines from line ${fmt.int(deep)}`, "deep", deepGets),
    ],
    notes: [
      `archived reads: JSON answers over HTTP from the compiled server, median of ${rounds} interleaved runs after ${warm} unmeasured ones ` +
        `(whole object: ${o.quick ? 1 : 3}, not warmed); the index (${kb(index.length)}, ${blocks.length} blocks of ≤ ${kb(maxBlock)} ` +
        "compressed) is fetched once and kept for the upload. GETs and bytes counted at s3rver, in a process of " +
        "its own: every GET costs its round trip through it (a signed Range GET of one block answers in ~1.5 ms " +
        "here), so the local-file ratio measures s3rver as well as the read. Whole object: the same server build after the index was removed " +
        "(a fresh process: parsed indexes are kept per upload), as archives of earlier versions are read. RSS: " +
        "the peak of a server started for that phase alone (reads only, no archiving).",
    ],
  };
}
