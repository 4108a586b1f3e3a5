// Figure: ingest lines/s from 4 loopback clients (child processes) vs a raw batched append of the same lines.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { type BenchOptions, cpuMs, type Figure, fmt, runChild, spawnBinary } from "./common.ts";

const CLIENTS = 4;
const BATCH = 500;

interface ClientResult {
  lines: number;
  requests: number;
  first: number;
  last: number;
  cpuMs: number;
}

export async function benchIngest(o: BenchOptions): Promise<Figure> {
  const durationMs = o.quick ? 3_000 : 10_000;
  const warmupMs = o.quick ? 500 : 1_500;

  const file = join(o.dir, "append-baseline.jsonl");
  const base = await runChild<{ lines: number; ms: number }>("append-baseline.ts", [
    file,
    String(o.quick ? 2_000_000 : 6_000_000),
  ]);
  rmSync(file, { force: true });
  const baseRate = base.lines / (base.ms / 1000);

  await using server = await spawnBinary({}, join(o.dir, "ingest"));
  const startAt = Date.now() + warmupMs + 1_000; // time for the clients to start and build their bodies
  const cpu0 = cpuMs(server.proc.pid);
  const results = await Promise.all(
    Array.from({ length: CLIENTS }, (_, i) =>
      runChild<ClientResult>("ingest-client.ts", [
        server.url,
        `ingest-${i}`,
        String(startAt),
        String(durationMs),
        String(warmupMs),
        String(BATCH),
      ]),
    ),
  );
  const serverCpu = cpuMs(server.proc.pid) - cpu0;
  const lines = results.reduce((s, r) => s + r.lines, 0);
  const wall = Math.max(...results.map((r) => r.last)) - Math.min(...results.map((r) => r.first));
  const rate = lines / (wall / 1000);
  const clientCpu = results.reduce((s, r) => s + r.cpuMs, 0);
  const ratio = rate / baseRate;
  return {
    rows: [
      {
        figure: "ingest (4 clients, 500-line batches)",
        value: `${fmt.int(rate)} lines/s`,
        baseline: `${fmt.int(baseRate)} lines/s`,
        ratio: fmt.ratio(ratio),
        target: "≥ 1,000,000 lines/s and ≥ 0.2×",
        pass: rate >= 1_000_000 && ratio >= 0.2,
      },
    ],
    notes: [
      `ingest: ${CLIENTS} client processes, each one job, one request in flight, pre-built bodies of ${BATCH} ` +
        `lines (~110 B stored each, worker timestamps), ${durationMs / 1000} s after ${warmupMs / 1000} s warm-up; ` +
        `clients used ${fmt.int(clientCpu)} ms CPU and the server ${fmt.int(serverCpu)} ms over the window ` +
        `(2 cores shared). Baseline: one process, Bun.file().writer(), write + flush per 1,000 stored lines.`,
    ],
  };
}
