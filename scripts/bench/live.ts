// Figure: push → WebSocket viewer latency at 10,000 lines/s for 1, 100 and 1,000 viewers, vs raw server.publish.
// The client side is `benchStream` of scripts/bench-stream.ts, run unchanged against both servers.
import { join } from "node:path";
import { benchStream, type StreamBenchResult } from "../bench-stream.ts";
import { type BenchOptions, type Figure, fmt, type Row, spawnBinary, spawnChild } from "./common.ts";

/** 100-line batches every 10 ms: 10,000 lines/s. */
const PACE = { lines: 100, intervalMs: 10 };

async function rawServer(): Promise<{ url: string; proc: ReturnType<typeof spawnChild> } & AsyncDisposable> {
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

export async function benchLive(o: BenchOptions): Promise<Figure> {
  const counts = [1, 100, 1000];
  const seconds = o.quick ? 1 : 4;
  const paced = { batches: (seconds * 1000) / PACE.intervalMs, ...PACE };
  const flood = (viewers: number) => ({
    lines: Math.round((o.quick ? 200_000 : 2_000_000) / viewers),
    batch: 1000,
  });
  const ours: StreamBenchResult[] = [];
  const raw: StreamBenchResult[] = [];
  {
    await using server = await spawnBinary({}, join(o.dir, "live"));
    for (const viewers of counts)
      ours.push(await benchStream({ url: server.url, viewers, paced, flood: flood(viewers) }));
  }
  {
    await using server = await rawServer();
    for (const viewers of counts)
      raw.push(await benchStream({ url: server.url, viewers, paced, flood: flood(viewers) }));
  }
  const rows: Row[] = counts.map((viewers, i) => {
    const a = ours[i]!.latencyMs;
    const b = raw[i]!.latencyMs;
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
      `live: ${PACE.lines}-line pushes every ${PACE.intervalMs} ms (10,000 lines/s) for ${seconds} s per viewer count; ` +
        "latency from just before the push to the frame's arrival, every frame at every viewer; viewers and " +
        "pusher are one client process (scripts/bench-stream.ts), the same against both servers. Baseline: a " +
        "bare Bun.serve child process that encodes the same lines and server.publish()es them (no file, no " +
        "database). Flood delivery (lines/s summed over viewers): " +
        counts
          .map(
            (v, i) =>
              `${v}: ${fmt.int(ours[i]!.flood.deliveredLinesPerSec)} vs ${fmt.int(raw[i]!.flood.deliveredLinesPerSec)}`,
          )
          .join(", ") +
        ".",
    ],
  };
}
