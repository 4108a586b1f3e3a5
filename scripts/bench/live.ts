// Figure: push → WebSocket viewer latency at 10,000 lines/s for 1, 100 and 1,000 viewers, vs raw server.publish.
// The client side is `benchStream` of scripts/bench-stream.ts, run unchanged against both servers.
import { join } from "node:path";
import { benchStream, type StreamBenchResult } from "../bench-stream.ts";
import { type BenchOptions, cpuMs, type Figure, fmt, type Row, spawnBinary, spawnChild } from "./common.ts";

/** 100-line batches every 10 ms: 10,000 lines/s. */
const PACE = { lines: 100, intervalMs: 10 };

export async function rawServer(): Promise<
  { url: string; proc: ReturnType<typeof spawnChild> } & AsyncDisposable
> {
  const proc = spawnChild("raw-live-server.ts", []);
  const reader = proc.stdout.getReader();
  let out = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`raw live server exited: ${await new Response(proc.stderr).text()}`);
    out += new TextDecoder().decode(value);
    const m = /listening on (\S+)/.exec(out);
    if (m) {
      reader.releaseLock();
      return {
        url: m[1]!,
        proc,
        async [Symbol.asyncDispose]() {
          proc.kill("SIGKILL");
          await proc.exited;
        },
      };
    }
  }
}

interface Run {
  result: StreamBenchResult;
  /** CPU used over the run, as a share of one core: the server process and the client (this process). */
  serverCpu: number;
  clientCpu: number;
}

async function measure(url: string, pid: number, viewers: number, seconds: number): Promise<Run> {
  const paced = { batches: (seconds * 1000) / PACE.intervalMs, ...PACE };
  const s0 = cpuMs(pid);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  // The flood phase of benchStream is kept minimal: this figure is about latency.
  const result = await benchStream({ url, viewers, paced, flood: { lines: 1000, batch: 1000 } });
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { result, serverCpu: (cpuMs(pid) - s0) / wall, clientCpu: (c.user + c.system) / 1000 / wall };
}

export async function benchLive(o: BenchOptions): Promise<Figure> {
  const counts = [1, 100, 1000];
  const seconds = o.quick ? 1 : 4;
  const ours: Run[] = [];
  const raw: Run[] = [];
  {
    await using server = await spawnBinary({}, join(o.dir, "live"));
    for (const viewers of counts) ours.push(await measure(server.url, server.proc.pid, viewers, seconds));
  }
  {
    await using server = await rawServer();
    for (const viewers of counts) raw.push(await measure(server.url, server.proc.pid, viewers, seconds));
  }
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  const rows: Row[] = counts.map((viewers, i) => {
    const a = ours[i]!.result.latencyMs;
    const b = raw[i]!.result.latencyMs;
    return {
      figure: `live push → viewer, ${viewers} viewer${viewers === 1 ? "" : "s"} (p50 / p99)`,
      value: `${fmt.ms(a.p50)} / ${fmt.ms(a.p99)} ms`,
      baseline: `${fmt.ms(b.p50)} / ${fmt.ms(b.p99)} ms`,
      ratio: fmt.ratio(a.p99 / b.p99),
      target: viewers === 1000 ? "p99 ≤ 10 ms" : "—",
      pass: viewers === 1000 ? a.p99 <= 10 : null,
    };
  });
  return {
    rows,
    notes: [
      `live: ${PACE.lines}-line pushes every ${PACE.intervalMs} ms (10,000 lines/s, ~8.5 KB frames) for ${seconds} s per ` +
        "viewer count; latency from just before the push to the frame's arrival, every frame at every viewer; " +
        "viewers and pusher are one client process (scripts/bench-stream.ts), the same against both servers. " +
        "Baseline: a bare Bun.serve child process that encodes the same lines and server.publish()es them (no " +
        "file, no database, no cursors). CPU over each run, share of one core, server / client — stroem-logs: " +
        counts.map((v, i) => `${v}: ${pct(ours[i]!.serverCpu)} / ${pct(ours[i]!.clientCpu)}`).join(", ") +
        "; raw publish: " +
        counts.map((v, i) => `${v}: ${pct(raw[i]!.serverCpu)} / ${pct(raw[i]!.clientCpu)}`).join(", ") +
        ".",
    ],
  };
}
