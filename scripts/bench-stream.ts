#!/usr/bin/env bun
// Live-stream benchmark: push→receive latency (p50/p99) and delivered lines/s for N WebSocket viewers of one job.
// `bun scripts/bench-stream.ts [viewers...]` runs against a fresh server child process; `benchStream` is reusable.
import { spawnServer } from "../test/support/process.ts";

export interface StreamBenchOptions {
  /** Base URL of a running server (http://host:port). */
  url: string;
  viewers: number;
  /** Paced phase, for latency: `batches` pushes of `lines` lines, one every `intervalMs`. */
  paced?: { batches: number; lines: number; intervalMs: number };
  /** Flood phase, for throughput: `lines` pushed as fast as the server takes them, `batch` lines a push. */
  flood?: { lines: number; batch: number };
  /** Job id prefix (each phase uses its own job). */
  job?: string;
}

export interface StreamBenchResult {
  viewers: number;
  latencyMs: { p50: number; p99: number; max: number; samples: number };
  flood: { lines: number; seconds: number; deliveredLinesPerSec: number; pushLinesPerSec: number };
}

const pct = (sorted: Float64Array, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

/** Opens `n` viewers of `job`; each frame is handed to `onFrame(viewerIndex, text)`. */
async function openViewers(url: string, job: string, n: number, onFrame: (i: number, text: string) => void) {
  const sockets: WebSocket[] = [];
  const opened: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}/api/jobs/${job}/logs/stream`);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    ws.addEventListener("open", () => resolve());
    ws.addEventListener("close", (e) =>
      reject(new Error(`viewer ${i} of ${job} closed early: ${e.code} ${e.reason}`)),
    );
    ws.addEventListener("message", (e) => onFrame(i, e.data as string));
    sockets.push(ws);
    opened.push(promise);
  }
  await Promise.all(opened);
  return sockets;
}

async function push(url: string, job: string, body: string): Promise<void> {
  const res = await fetch(`${url}/worker/jobs/${job}/logs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  if (!res.ok) throw new Error(`push to ${job} failed: ${res.status} ${await res.text()}`);
}

function body(lines: string[]): string {
  return JSON.stringify({ step_name: "bench", lines: lines.map((line) => ({ stream: "stdout", line })) });
}

async function jobBytes(url: string, job: string): Promise<number> {
  const res = await fetch(`${url}/api/jobs/${job}`);
  return ((await res.json()) as { bytes: number }).bytes;
}

/** Waits until `check()` holds, re-checking every 5 ms; fails after `ms`. */
async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`bench: timed out after ${ms} ms waiting for ${what}`);
    await Bun.sleep(5);
  }
}

export async function benchStream(opts: StreamBenchOptions): Promise<StreamBenchResult> {
  const { url, viewers } = opts;
  const paced = opts.paced ?? { batches: 200, lines: 10, intervalMs: 10 };
  // About 10 M deliveries per run (500 k lines for one viewer), so each figure is measured over seconds.
  const flood = opts.flood ?? {
    lines: Math.min(500_000, Math.max(20_000, Math.round(10_000_000 / viewers))),
    batch: 1000,
  };
  const prefix = `${opts.job ?? "bench"}-${viewers}-${Date.now()}`;

  // Latency: each line carries the time it was pushed; a live frame is one pushed batch.
  const samples = new Float64Array(paced.batches * viewers);
  let n = 0;
  const latJob = `${prefix}-lat`;
  const latSockets = await openViewers(url, latJob, viewers, (_i, text) => {
    const m = /"line":"t=([\d.]+) /.exec(text);
    if (m && n < samples.length) samples[n++] = performance.now() - Number(m[1]);
  });
  for (let b = 0; b < paced.batches; b++) {
    const t = performance.now().toFixed(3);
    await push(url, latJob, body(Array.from({ length: paced.lines }, (_, i) => `t=${t} ${b}.${i}`)));
    await Bun.sleep(paced.intervalMs); // paced on purpose: latency, not queueing
  }
  await until(`${samples.length} latency samples`, () => n >= samples.length, 30_000);
  for (const ws of latSockets) ws.close();
  const sorted = samples.slice(0, n).sort();

  // Throughput: every viewer must receive the whole flood.
  const floodJob = `${prefix}-flood`;
  const received = new Float64Array(viewers);
  const floodSockets = await openViewers(url, floodJob, viewers, (i, text) => {
    received[i]! += text.length; // ASCII lines: string length is the byte count
  });
  const pad = "x".repeat(60);
  const started = performance.now();
  for (let sent = 0; sent < flood.lines; sent += flood.batch) {
    const count = Math.min(flood.batch, flood.lines - sent);
    await push(url, floodJob, body(Array.from({ length: count }, (_, i) => `flood ${sent + i} ${pad}`)));
  }
  const pushed = performance.now();
  const total = await jobBytes(url, floodJob);
  await until("every viewer to receive the flood", () => received.every((r) => r >= total), 120_000);
  const seconds = (performance.now() - started) / 1000;
  for (const ws of floodSockets) ws.close();

  return {
    viewers,
    latencyMs: {
      p50: pct(sorted, 0.5),
      p99: pct(sorted, 0.99),
      max: sorted[sorted.length - 1] ?? 0,
      samples: n,
    },
    flood: {
      lines: flood.lines,
      seconds,
      deliveredLinesPerSec: (flood.lines * viewers) / seconds,
      pushLinesPerSec: flood.lines / ((pushed - started) / 1000),
    },
  };
}

if (import.meta.main) {
  const counts = process.argv.slice(2).map(Number);
  await using server = await spawnServer();
  const rows: StreamBenchResult[] = [];
  for (const viewers of counts.length > 0 ? counts : [1, 100, 1000]) {
    const r = await benchStream({ url: server.url, viewers });
    rows.push(r);
    console.log(
      `${String(viewers).padStart(5)} viewers: latency p50 ${r.latencyMs.p50.toFixed(2)} ms, p99 ${r.latencyMs.p99.toFixed(2)} ms ` +
        `(max ${r.latencyMs.max.toFixed(1)}, ${r.latencyMs.samples} samples); flood ${r.flood.lines} lines → ` +
        `${Math.round(r.flood.deliveredLinesPerSec).toLocaleString("en")} lines/s delivered ` +
        `(${r.flood.seconds.toFixed(2)} s, push ${Math.round(r.flood.pushLinesPerSec).toLocaleString("en")} lines/s)`,
    );
  }
  console.log(
    `server peak RSS ${(server.peakRss() / 1024 / 1024).toFixed(0)} MB; ${new Date().toISOString().slice(0, 10)}, Bun ${Bun.version}`,
  );
}
