// `bun run bench --curves`: how each cost grows with the work, each curve beside a baseline of the same run;
// written as JSON and drawn as SVG into docs/perf/.
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { startS3 } from "../../test/support/s3.ts";
import { writeBenchLog } from "./biglog.ts";
import { type BenchOptions, MiB, median, postJson, ROOT, spawnBinary, until } from "./common.ts";
import { ingestBaselines, ingestLoad } from "./ingest.ts";
import { rawServer, spreadLatency } from "./live.ts";
import { lineChart, type Series } from "./svg.ts";

const OUT = join(ROOT, "docs", "perf");

export interface Curve {
  name: string;
  title: string;
  x: { label: string; log?: boolean };
  y: { label: string; log?: boolean };
  series: Series[];
  notes: string[];
}

const say = (m: string) => process.stderr.write(`curves: ${m}\n`);

/** Ingest lines/s against concurrent jobs (one request in flight each, 4 client processes). */
async function ingestCurve(o: BenchOptions): Promise<Curve> {
  const jobs = o.quick ? [1, 16, 256] : [1, 4, 16, 64, 256, 1000];
  const durationMs = o.quick ? 1_500 : 3_000;
  const base = await ingestBaselines(o.dir, o.quick ? 1_000_000 : 3_000_000);
  await using server = await spawnBinary({}, join(o.dir, "c-ingest"));
  const points: [number, number][] = [];
  const missed: number[] = [];
  for (const n of jobs) {
    // A job's first push creates it (a database row, a file): the warm-up gives every job its first push
    // before the window, so that the curve is the cost of appending, not of creating jobs (at ~4 ms each here).
    const warmupMs = 500 + 4 * n;
    const r = await ingestLoad(server, { jobs: n, procs: 4, durationMs, warmupMs, tag: `c${n}` });
    say(`ingest ${n} jobs: ${Math.round(r.rate)} lines/s`);
    // No answer inside the window (jobs still being created on a starved machine): a gap, said in the notes.
    if (Number.isFinite(r.rate) && r.rate > 0) points.push([n, r.rate]);
    else missed.push(n);
  }
  return {
    name: "ingest-jobs",
    title: "Ingest lines/s against concurrent jobs",
    x: { label: "concurrent jobs (one push in flight each)", log: true },
    y: { label: "lines/s" },
    series: [
      { name: "stroem-logs", points },
      { name: "parse+encode+append", points: jobs.map((n) => [n, base.parse]), dashed: true },
      { name: "raw append", points: jobs.map((n) => [n, base.raw]), dashed: true },
    ],
    notes: [
      `${durationMs / 1000} s per point after a warm-up of 0.5 s + 4 ms per job (every job created before the window), 500-line pushes, clients in min(4, jobs) processes on the same 2 cores. ` +
        "Baselines (one process each, same run): the push bodies JSON.parsed, encodeLine()d and appended 1,000 lines a write; a raw append of the stored lines.",
      ...(missed.length > 0
        ? [
            `no push answered inside the window at ${missed.join(", ")} jobs (the machine too loaded to create them all in the warm-up)`,
          ]
        : []),
    ],
  };
}

/** Push → viewer p99 against viewers, stroem-logs and raw server.publish, until the machine cannot keep up. */
async function liveCurve(o: BenchOptions): Promise<Curve> {
  const counts = o.quick ? [1, 100, 1000] : [1, 10, 100, 1000, 3000, 10_000];
  // 10 pushes/s of 100 lines: at 10,000 viewers that is 100,000 frames/s, what the table's 1,000 viewers see.
  const paced = { batches: o.quick ? 20 : 40, lines: 100, intervalMs: 100 };
  // Interleaved per viewer count, both servers up: the two sides of a point see the same machine load.
  const ours = { points: [] as [number, number][], stops: [] as string[] };
  const raw = { points: [] as [number, number][], stops: [] as string[] };
  // limits.max_streams_per_job (1,000 by default) would refuse the 3,000th viewer of the one job: raised, so the
  // curve shows where fan-out stops keeping up, not the configured bound.
  await using mine = await spawnBinary(
    { limits: { max_streams_per_job: 20_000, max_streams: 20_000 } },
    join(o.dir, "c-live"),
  );
  await using bare = await rawServer();
  const one = async (server: { url: string; proc: { pid: number } }, viewers: number, into: typeof ours) => {
    if (into.stops.length > 0) return;
    try {
      const { result: r } = await spreadLatency(server.url, server.proc.pid, {
        viewers,
        procs: 2,
        ...paced,
        job: "c-live",
      });
      const expected = viewers * paced.batches;
      // A point where viewers were closed or frames missing is where the side stopped keeping up.
      if (r.closed > 0 || r.samples < expected)
        into.stops.push(`${viewers} viewers: ${r.closed} closed, ${r.samples} of ${expected} frames in time`);
      else into.points.push([viewers, r.p99]);
    } catch (e) {
      into.stops.push(`${viewers} viewers: ${(e as Error).message.split("\n")[0]}`);
    }
  };
  for (const viewers of counts) {
    await one(mine, viewers, ours);
    await one(bare, viewers, raw);
    if (ours.stops.length > 0 && raw.stops.length > 0) break;
  }
  say(`live: ${JSON.stringify(ours.points)} raw ${JSON.stringify(raw.points)}`);
  return {
    name: "live-viewers",
    title: "Push → viewer p99 against viewers of one job",
    x: { label: "viewers", log: true },
    y: { label: "p99 latency, ms", log: true },
    series: [
      { name: "stroem-logs", points: ours.points },
      { name: "raw server.publish", points: raw.points, dashed: true },
    ],
    notes: [
      `100-line pushes 10 times a second for ${paced.batches / 10} s per point; the viewers spread over two client ` +
        "processes (scripts/bench/live-viewers.ts), the pusher in the bench process, the same against both servers. Baseline: a bare Bun.serve that encodes the same lines and server.publish()es them.",
      ...[
        ...ours.stops.map((s) => `stroem-logs stopped at ${s}`),
        ...raw.stops.map((s) => `raw publish stopped at ${s}`),
      ],
    ],
  };
}

async function timed(url: string, check: (res: Response) => Promise<void>): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  await check(res);
  return performance.now() - t0;
}

async function hundred(res: Response): Promise<void> {
  const body = (await res.json()) as { logs: string };
  if (body.logs.split("\n").length !== 101) throw new Error("not 100 lines");
}

async function drain(res: Response): Promise<void> {
  const reader = res.body!.getReader();
  for (;;) if ((await reader.read()).done) return;
}

/** Read time of a 100-line window and peak server RSS per read form, against log size; archive time too. */
async function logCurves(o: BenchOptions): Promise<Curve[]> {
  const sizes = o.quick ? [1, 16, 256].map((m) => m * MiB) : [1, 16, 256, 1024, 4096].map((m) => m * MiB);
  const archiveMax = o.quick ? 256 * MiB : 1024 * MiB;
  const dir = join(o.dir, "c-logs");
  mkdirSync(join(dir, "logs"), { recursive: true });
  const windows = {
    first: [] as [number, number][],
    middle: [] as [number, number][],
    last: [] as [number, number][],
  };
  const rawWindow: [number, number][] = [];
  const forms = ["window (tail=100)", "step (ndjson)", "whole (ndjson)", "whole (JSON)"] as const;
  const rss: Record<(typeof forms)[number], [number, number][]> = {
    "window (tail=100)": [],
    "step (ndjson)": [],
    "whole (ndjson)": [],
    "whole (JSON)": [],
  };
  const idle: [number, number][] = [];
  const archive: [number, number][] = [];
  const gzip: [number, number][] = [];
  await using s3 = await startS3();
  const config = { log_storage: { archive: s3.archive() } };
  for (const size of sizes) {
    const mb = size / MiB;
    const path = join(o.dir, `c-${mb}.jsonl`);
    const log = writeBenchLog(path, size);
    const job = `c${mb}`;
    linkSync(path, join(dir, "logs", `${job}.jsonl`));
    {
      await using server = await spawnBinary(config, dir);
      await postJson(`${server.url}/api/jobs/${job}`, { workspace: "bench", task: "curves" }, "PUT");
      idle.push([mb, server.peakRss() / MiB]);
      const base = `${server.url}/api/jobs/${job}/logs`;
      const at = { first: 0, middle: Math.floor(log.lines / 2), last: log.lines - 100 };
      const t: Record<keyof typeof at, number[]> = { first: [], middle: [], last: [] };
      const r: number[] = [];
      const file = Bun.file(path);
      for (let i = 0; i < 9; i++) {
        for (const k of ["first", "middle", "last"] as const)
          t[k].push(await timed(`${base}?from=${at[k]}&limit=100`, hundred));
        // Baseline: the same amount of bytes read at a known offset, no lookup, no JSON answer.
        const off = Math.floor(((size - 20_000) * i) / 8);
        const t0 = performance.now();
        await file.slice(off, off + 100 * 112).text();
        r.push(performance.now() - t0);
      }
      for (const k of ["first", "middle", "last"] as const) windows[k].push([mb, median(t[k])]);
      rawWindow.push([mb, median(r)]);
    }
    // Peak RSS: a fresh server per form (VmHWM never goes down), the response drained by the bench process.
    const urls: Record<(typeof forms)[number], string> = {
      "window (tail=100)": `logs?tail=100`,
      "step (ndjson)": `steps/rare/logs?format=ndjson`,
      "whole (ndjson)": `logs?format=ndjson`,
      "whole (JSON)": `logs`,
    };
    for (const form of forms) {
      await using server = await spawnBinary(config, dir);
      await timed(`${server.url}/api/jobs/${job}/${urls[form]}`, drain);
      rss[form].push([mb, server.peakRss() / MiB]);
    }
    if (size <= archiveMax) {
      await using server = await spawnBinary(config, dir);
      const t0 = performance.now();
      await postJson(`${server.url}/worker/jobs/${job}/complete`, { status: "completed" });
      await until(
        `the archive of ${job}`,
        async () => {
          const j = (await (await fetch(`${server.url}/api/jobs/${job}`)).json()) as {
            archive: { state: string } | null;
          };
          return j.archive?.state === "uploaded";
        },
        600_000,
        25,
      );
      archive.push([mb, (performance.now() - t0) / 1000]);
      const g0 = performance.now();
      const proc = Bun.spawn(["bash", "-c", 'exec gzip -6 -c "$0" > /dev/null', path]);
      if ((await proc.exited) !== 0) throw new Error("gzip -6 failed");
      gzip.push([mb, (performance.now() - g0) / 1000]);
    }
    say(`log ${mb} MiB: windows ${JSON.stringify([windows.first.at(-1), windows.last.at(-1)])}`);
    rmSync(path, { force: true }); // the server's hard link keeps the bytes until this run's dir is removed
  }
  const sizeAxis = { label: "log size, MiB", log: true };
  return [
    {
      name: "read-window",
      title: "Read time of a 100-line window against log size",
      x: sizeAxis,
      y: { label: "ms (median of 9)", log: true },
      series: [
        { name: "first 100 lines", points: windows.first },
        { name: "middle", points: windows.middle },
        { name: "last 100 lines", points: windows.last },
        { name: "raw pread, same bytes", points: rawWindow, dashed: true },
      ],
      notes: [
        "JSON answers over HTTP (`?from=N&limit=100`), page cache warm. Baseline: Bun.file().slice() of 100 lines' bytes at a known offset in the bench process (no index lookup, no HTTP).",
      ],
    },
    {
      name: "read-rss",
      title: "Server peak RSS during one read, against log size",
      x: sizeAxis,
      y: { label: "peak RSS, MiB" },
      series: [
        ...forms.map((f) => ({ name: f, points: rss[f] })),
        { name: "idle server", points: idle, dashed: true },
      ],
      notes: [
        "A fresh server per read form and size (VmHWM), the response drained by the bench process as fast as it can. Baseline: the server's peak after start and adoption of the log, before any read.",
      ],
    },
    {
      name: "archive-size",
      title: "Archive time against log size",
      x: sizeAxis,
      y: { label: "seconds", log: true },
      series: [
        { name: "stroem-logs to S3", points: archive },
        { name: "gzip -6 > /dev/null", points: gzip, dashed: true },
      ],
      notes: [
        `From POST …/complete to the archive verified (gzip, multipart upload to s3rver in the bench process, HEAD), up to ${archiveMax / MiB} MiB. Baseline: \`gzip -6\` of the same file.`,
      ],
    },
  ];
}

/** `only`: a subset of ingest, live, logs; the other curves are kept from the last docs/perf/curves.json. */
export async function runCurves(o: BenchOptions, only: string[] | null = null): Promise<void> {
  const started = new Date();
  const load = loadavg().map((l) => l.toFixed(1));
  const curves: Curve[] = [];
  const runs: Record<string, string> = {};
  const step = async (what: string, fn: () => Promise<Curve | Curve[]>) => {
    if (only !== null && !only.includes(what)) return;
    const t0 = performance.now();
    say(`${what}…`);
    const c = await fn();
    curves.push(...(Array.isArray(c) ? c : [c]));
    say(`${what}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  };
  await step("ingest", () => ingestCurve(o));
  await step("live", () => liveCurve(o));
  await step("logs", () => logCurves(o));
  const seconds = (Date.now() - started.getTime()) / 1000;
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? "CPU"}, Bun ${Bun.version}`;
  const run = `${started.toISOString().slice(0, 16).replace("T", " ")} UTC, ${machine}, load ${load.join(" ")} at start${o.quick ? ", --quick" : ""}`;
  for (const c of curves) runs[c.name] = run;
  mkdirSync(OUT, { recursive: true });
  const file = join(OUT, "curves.json");
  if (only !== null && existsSync(file)) {
    const old = JSON.parse(readFileSync(file, "utf8")) as {
      run?: string;
      curves: (Curve & { run?: string })[];
    };
    for (const c of old.curves)
      if (!curves.some((n) => n.name === c.name)) {
        curves.push(c);
        runs[c.name] = c.run ?? old.run ?? "an earlier run";
      }
  }
  const all = curves.map((c) => ({ ...c, run: runs[c.name]! }));
  writeFileSync(file, `${JSON.stringify({ curves: all }, null, 2)}\n`);
  for (const c of all) writeFileSync(join(OUT, `${c.name}.svg`), lineChart({ ...c, subtitle: c.run }));
  console.log(`curves: ${run}; ${seconds.toFixed(0)} s; written to ${OUT}`);
  for (const c of curves) for (const n of c.notes) console.log(`- ${c.name}: ${n}`);
  for (const c of curves)
    for (const s of c.series)
      console.log(
        `  ${c.name} / ${s.name}: ${s.points.map(([x, y]) => `${x}→${y === null ? "—" : Number(y.toPrecision(3))}`).join(", ")}`,
      );
}
