// Figure: push → WebSocket viewer latency at 10,000 lines/s for 1, 100 and 1,000 viewers, vs raw server.publish.
// The viewers are scripts/bench/live-viewers.ts in two client processes, run unchanged against both servers.
import { join } from "node:path";
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

export interface LatencyResult {
  p50: number;
  p99: number;
  max: number;
  samples: number;
  /** Viewers the server closed during the run (a viewer that cannot keep up, past the buffer budget). */
  closed: number;
}

interface Run {
  result: LatencyResult;
  /** CPU used over the run, as a share of one core: the server process and the viewer processes. */
  serverCpu: number;
  clientCpu: number;
}

const pct = (sorted: Float64Array, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

/**
 * Push → viewer latency of `viewers` viewers of one job, spread over `procs` client processes (so that no one
 * client process is the limit), while this process pushes `batches` batches of `lines` lines every
 * `intervalMs`; every frame at every viewer is a sample.
 */
export async function spreadLatency(
  url: string,
  pid: number,
  o: { viewers: number; procs: number; batches: number; lines: number; intervalMs: number; job: string },
): Promise<Run> {
  const procs = Math.max(1, Math.min(o.procs, o.viewers));
  const job = `${o.job}-${o.viewers}-${Date.now()}`;
  const kids = Array.from({ length: procs }, (_, i) => {
    const n = Math.floor(o.viewers / procs) + (i < o.viewers % procs ? 1 : 0);
    const proc = spawnChild("live-viewers.ts", [url, job, String(n), String(o.batches)]);
    return { proc, ...readOut(proc), err: new Response(proc.stderr).text() };
  });
  await Promise.all(
    kids.map((k) =>
      Promise.race([
        k.ready,
        k.proc.exited.then(async (code) => {
          throw new Error(`viewer process exited ${code} before its viewers opened: ${await k.err}`);
        }),
      ]),
    ),
  );
  const s0 = cpuMs(pid);
  const t0 = performance.now();
  const epoch = () => performance.timeOrigin + performance.now();
  for (let b = 0; b < o.batches; b++) {
    const t = epoch().toFixed(3);
    const lines = Array.from({ length: o.lines }, (_, i) => ({ stream: "stdout", line: `t=${t} ${b}.${i}` }));
    const res = await fetch(`${url}/worker/jobs/${job}/logs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ step_name: "bench", lines }),
    });
    if (!res.ok) throw new Error(`push to ${job} failed: ${res.status} ${await res.text()}`);
    await Bun.sleep(o.intervalMs); // paced on purpose: latency, not queueing
  }
  // Frames still on their way get up to 10 s; then the viewers report what they have.
  const done = Promise.all(kids.map((k) => k.proc.exited));
  await Promise.race([done, Bun.sleep(10_000)]);
  const wall = performance.now() - t0;
  const serverCpu = (cpuMs(pid) - s0) / wall;
  for (const k of kids) {
    try {
      k.proc.stdin.write("end\n");
      k.proc.stdin.end();
    } catch {
      // already exited
    }
  }
  const outs = await Promise.all(kids.map((k) => k.text));
  const all: number[] = [];
  let closed = 0;
  let clientMs = 0;
  for (const text of outs) {
    const r = JSON.parse(text.slice(text.indexOf("\n") + 1)) as {
      samples: number[];
      closed: number;
      cpuMs: number;
    };
    clientMs += r.cpuMs;
    for (const x of r.samples) all.push(x);
    closed += r.closed;
  }
  const sorted = Float64Array.from(all).sort();
  return {
    result: {
      p50: pct(sorted, 0.5),
      p99: pct(sorted, 0.99),
      max: sorted.at(-1) ?? 0,
      samples: sorted.length,
      closed,
    },
    serverCpu,
    clientCpu: clientMs / wall,
  };
}

/** A child's whole stdout, and when its first line ("ready") arrived. */
function readOut(proc: { stdout: ReadableStream<Uint8Array> }): {
  ready: Promise<void>;
  text: Promise<string>;
} {
  const { promise: ready, resolve } = Promise.withResolvers<void>();
  const text = (async () => {
    let out = "";
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) {
      out += decoder.decode(chunk, { stream: true });
      if (out.startsWith("ready\n")) resolve();
    }
    return out;
  })();
  return { ready, text };
}

async function measure(url: string, pid: number, viewers: number, seconds: number): Promise<Run> {
  return spreadLatency(url, pid, {
    viewers,
    procs: 2,
    batches: (seconds * 1000) / PACE.intervalMs,
    ...PACE,
    job: "live",
  });
}

export async function benchLive(o: BenchOptions): Promise<Figure> {
  const counts = [1, 100, 1000];
  const seconds = o.quick ? 1 : 4;
  const ours: Run[] = [];
  const raw: Run[] = [];
  {
    // Both servers up at once, measured in turn per viewer count: the machine's load drifts between phases.
    await using server = await spawnBinary({}, join(o.dir, "live"));
    await using bare = await rawServer();
    for (const viewers of counts) {
      ours.push(await measure(server.url, server.proc.pid, viewers, seconds));
      raw.push(await measure(bare.url, bare.proc.pid, viewers, seconds));
    }
  }
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  const rows: Row[] = counts.map((viewers, i) => {
    const a = ours[i]!.result;
    const b = raw[i]!.result;
    return {
      figure: `live push → viewer, ${viewers} viewer${viewers === 1 ? "" : "s"} (p50 / p99)`,
      value: `${fmt.ms(a.p50)} / ${fmt.ms(a.p99)} ms${a.closed > 0 ? ` (${a.closed} closed)` : ""}`,
      baseline: `${fmt.ms(b.p50)} / ${fmt.ms(b.p99)} ms${b.closed > 0 ? ` (${b.closed} closed)` : ""}`,
      ratio: fmt.ratio(a.p99 / b.p99),
      target: viewers === 1000 ? "p99 ≤ 1.0× raw publish (issue 15)" : "—",
      pass: viewers === 1000 ? a.p99 <= b.p99 && a.closed === 0 : null,
    };
  });
  return {
    rows,
    notes: [
      `live: ${PACE.lines}-line pushes every ${PACE.intervalMs} ms (10,000 lines/s, ~8.5 KB frames) for ${seconds} s per ` +
        "viewer count; latency from just before the push to the frame's arrival (epoch clocks of one machine), " +
        "every frame at every viewer; the viewers spread over two client processes (scripts/bench/live-viewers.ts), " +
        "the pusher in the bench process, the same against both servers, measured in turn per count. " +
        "Baseline: a bare Bun.serve child process that encodes the same lines and server.publish()es them (no " +
        "file, no database, no cursors). CPU over each run, share of one core, server / viewer processes — " +
        "stroem-logs: " +
        counts.map((v, i) => `${v}: ${pct(ours[i]!.serverCpu)} / ${pct(ours[i]!.clientCpu)}`).join(", ") +
        "; raw publish: " +
        counts.map((v, i) => `${v}: ${pct(raw[i]!.serverCpu)} / ${pct(raw[i]!.clientCpu)}`).join(", ") +
        ".",
    ],
  };
}
