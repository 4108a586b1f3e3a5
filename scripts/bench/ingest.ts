// Figure: ingest lines/s from loopback clients (child processes) vs the same run's baselines: a raw batched
// append of the stored lines, and the work no server can avoid (parse the bodies, encode, append).
import { rmSync } from "node:fs";
import { join } from "node:path";
import { type BenchOptions, cpuMs, type Figure, fmt, runChild, spawnBinary } from "./common.ts";

const BATCH = 500;

interface ClientResult {
  lines: number;
  requests: number;
  first: number;
  last: number;
  cpuMs: number;
}

export interface IngestRun {
  rate: number;
  serverCpuMs: number;
  clientCpuMs: number;
  wallMs: number;
}

/**
 * `jobs` concurrent workers, each pushing to its own job with one request in flight, spread over `procs`
 * client processes, against a running server; lines/s acknowledged over `durationMs` after a warm-up.
 */
export async function ingestLoad(
  server: { url: string; proc: { pid: number } },
  opts: { jobs: number; procs: number; durationMs: number; warmupMs: number; tag: string },
): Promise<IngestRun> {
  const procs = Math.min(opts.procs, opts.jobs);
  settle();
  const startAt = Date.now() + opts.warmupMs + 1_000; // time for the clients to start and build their bodies
  const cpu0 = cpuMs(server.proc.pid);
  const results = await Promise.all(
    Array.from({ length: procs }, (_, i) => {
      const jobs = Math.floor(opts.jobs / procs) + (i < opts.jobs % procs ? 1 : 0);
      return runChild<ClientResult>("ingest-client.ts", [
        server.url,
        `${opts.tag}-${i}`,
        String(startAt),
        String(opts.durationMs),
        String(opts.warmupMs),
        String(BATCH),
        String(jobs),
      ]);
    }),
  );
  const serverCpuMs = cpuMs(server.proc.pid) - cpu0;
  const lines = results.reduce((s, r) => s + r.lines, 0);
  const wallMs = Math.max(...results.map((r) => r.last)) - Math.min(...results.map((r) => r.first));
  return {
    rate: lines / (wallMs / 1000),
    serverCpuMs,
    clientCpuMs: results.reduce((s, r) => s + r.cpuMs, 0),
    wallMs,
  };
}

/** lines/s of the raw append (no parsing at all) and of parse + encode + append, each one process. */
export interface Baselines {
  raw: number;
  parse: number;
  /** Lines per CPU-second of parse + encode + append (what survives a loaded machine). */
  parseCpu: number;
}

/**
 * Writes back what earlier phases left dirty in the page cache, so that a load or a baseline does not pay for
 * the one before it: a 10 s load leaves ~1 GB of log behind, which the kernel writes back 30 s later
 * (vm.dirty_expire_centisecs) — in the middle of the next load, while a baseline's file, deleted at once, is
 * never written back at all.
 */
function settle(): void {
  Bun.spawnSync(["sync"]);
}

export async function ingestBaselines(dir: string, lines: number): Promise<Baselines> {
  settle();
  const file = join(dir, "ingest-baseline.jsonl");
  const raw = await runChild<{ lines: number; ms: number }>("append-baseline.ts", [file, String(lines)]);
  rmSync(file, { force: true });
  const parse = await runChild<{ lines: number; ms: number; cpuMs: number }>("parse-baseline.ts", [
    file,
    String(lines),
    String(BATCH),
  ]);
  rmSync(file, { force: true });
  return {
    raw: raw.lines / (raw.ms / 1000),
    parse: parse.lines / (parse.ms / 1000),
    parseCpu: parse.lines / (parse.cpuMs / 1000),
  };
}

export async function benchIngest(o: BenchOptions): Promise<Figure> {
  const durationMs = o.quick ? 3_000 : 10_000;
  const warmupMs = o.quick ? 500 : 1_500;
  const baseLines = o.quick ? 2_000_000 : 6_000_000;
  // The baselines run before, between and after the two loads; each load's ratio is to the mean of the runs on
  // either side of it, so both sides of a ratio saw about the same machine (shared cores drift by 2× here).
  const b0 = await ingestBaselines(o.dir, baseLines);
  await using server = await spawnBinary({}, join(o.dir, "ingest"));
  const four = await ingestLoad(server, { jobs: 4, procs: 4, durationMs, warmupMs, tag: "ingest4" });
  const b1 = await ingestBaselines(o.dir, baseLines);
  const many = await ingestLoad(server, { jobs: 64, procs: 4, durationMs, warmupMs, tag: "ingest64" });
  const b2 = await ingestBaselines(o.dir, baseLines);
  const mean = (a: Baselines, b: Baselines): Baselines => ({
    raw: (a.raw + b.raw) / 2,
    parse: (a.parse + b.parse) / 2,
    parseCpu: (a.parseCpu + b.parseCpu) / 2,
  });
  const perCpu = (r: IngestRun) => r.rate / (r.serverCpuMs / r.wallMs);
  const base = mean(b0, b1);
  const baseMany = mean(b1, b2);
  const row = (what: string, r: IngestRun, b: { parse: number }, target: number) => ({
    figure: `ingest (${what}, ${BATCH}-line batches) vs parse + encode + append`,
    value: `${fmt.int(r.rate)} lines/s`,
    baseline: `${fmt.int(b.parse)} lines/s`,
    ratio: fmt.ratio(r.rate / b.parse),
    target: `≥ ${target}× (issue 15)`,
    pass: r.rate / b.parse >= target,
  });
  return {
    rows: [
      {
        figure: `ingest (4 clients, ${BATCH}-line batches) vs raw append`,
        value: `${fmt.int(four.rate)} lines/s`,
        baseline: `${fmt.int(base.raw)} lines/s`,
        ratio: fmt.ratio(four.rate / base.raw),
        target: "≥ 1,000,000 lines/s and ≥ 0.2×",
        pass: four.rate >= 1_000_000 && four.rate / base.raw >= 0.2,
      },
      row("4 clients on 4 jobs", four, base, 0.6),
      row("64 clients on 64 jobs", many, baseMany, 0.5),
      ...(
        [
          ["4 jobs", four, base],
          ["64 jobs", many, baseMany],
        ] as const
      ).map(([what, r, b]) => ({
        figure: `ingest per CPU-second (${what}): server vs parse + encode + append`,
        value: `${fmt.int(perCpu(r))} lines/CPU-s`,
        baseline: `${fmt.int(b.parseCpu)} lines/CPU-s`,
        ratio: fmt.ratio(perCpu(r) / b.parseCpu),
        target: "— (the load-independent view)",
        pass: null,
      })),
    ],
    notes: [
      `ingest: 4 client processes, each one job (then 64 jobs over 4 processes), one request in flight per job, ` +
        `pre-built bodies of ${BATCH} lines (~110 B stored each, worker timestamps), ${durationMs / 1000} s after ` +
        `${warmupMs / 1000} s warm-up; server CPU over the window ${fmt.int(four.serverCpuMs)} ms (4 jobs) and ` +
        `${fmt.int(many.serverCpuMs)} ms (64 jobs), clients ${fmt.int(four.clientCpuMs)} / ${fmt.int(many.clientCpuMs)} ms ` +
        `(2 cores shared). Baselines, one process each: raw append — Bun.file().writer(), write + flush per 1,000 ` +
        `stored lines; parse + encode + append — the same push bodies as bytes, decoded, JSON.parsed, each line ` +
        `encodeLine()d (src/core/line.ts) and appended 1,000 lines a write; run before, between and after the ` +
        `loads (parse baseline ${[b0, b1, b2].map((b) => fmt.int(b.parse)).join(" / ")} lines/s), each ratio to the ` +
        `mean of the two runs beside its load. Per CPU-second: lines over the CPU time the server (or the baseline ` +
        `process) used, which a loaded machine changes far less than lines per wall second.`,
    ],
  };
}
