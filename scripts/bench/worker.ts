// Figure: print → visible on the live stream through `stroem-logs run` on a worker (at 100 and 10,000 lines/s),
// the requests it makes for that, and what fsync of the spool costs per batch.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { openSpool } from "../../src/shipper/spool.ts";
import { type BenchOptions, BIN, type Figure, fmt, spawnBinary, until } from "./common.ts";

/** Delays (ms) between a line's print time, carried in the line, and its arrival on a stream viewer. */
function viewer(url: string, job: string) {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/api/jobs/${job}/logs/stream`);
  const delays: number[] = [];
  const opened = new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve());
    ws.addEventListener("error", () => reject(new Error(`viewer of ${job} failed`)));
  });
  ws.addEventListener("message", (e) => {
    const now = Date.now();
    for (const text of (e.data as string).split("\n")) {
      if (text !== "") delays.push(now - Number((JSON.parse(text) as { line: string }).line.split(" ")[0]));
    }
  });
  return { ws, delays, opened };
}

export const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? Number.NaN;
};

/** Pushes the server answered on the ingest route so far (its own request counter). */
async function pushCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(
    /^stroem_logs_http_requests_total\{[^}]*route="\/worker\/jobs\/:id\/logs"[^}]*\} (\d+)/gm,
  ))
    n += Number(m[1]);
  return n;
}

/**
 * A command printing `rate` timestamped lines a second for `lines` lines: every millisecond it prints what
 * is due (so 10,000 lines/s is 10 lines a tick, not one burst every 10 ms), each stamped as it is written.
 */
function printer(rate: number, lines: number): string {
  return (
    `const fs = require("node:fs"); const t0 = Date.now(); let i = 0;` +
    `const t = setInterval(() => { const due = Math.min(${lines}, Math.floor(((Date.now() - t0) * ${rate}) / 1000) + 1);` +
    ` while (i < due) fs.writeSync(1, Date.now() + " " + i++ + "\\n"); if (i === ${lines}) clearInterval(t); }, 1);`
  );
}

interface Shipped {
  p50: number;
  p99: number;
  /** Pushes per second of the run. */
  rps: number;
  seconds: number;
}

async function shipAt(
  url: string,
  spool: string,
  job: string,
  rate: number,
  lines: number,
): Promise<Shipped> {
  const shipped = viewer(url, job);
  await shipped.opened;
  const before = await pushCount(url);
  const t0 = performance.now();
  const run = Bun.spawn(
    [
      BIN,
      "run",
      ...["--job", job, "--step", "s", "--server", url, "--spool", spool, "--quiet"],
      "--",
      process.execPath,
      "-e",
      printer(rate, lines),
    ],
    { stdout: "ignore", stderr: "pipe" },
  );
  if ((await run.exited) !== 0)
    throw new Error(`bench: run exited ${run.exitCode}: ${await new Response(run.stderr).text()}`);
  const seconds = (performance.now() - t0) / 1000;
  await until(`every shipped line of ${job} on the stream`, () => shipped.delays.length >= lines, 30_000);
  shipped.ws.close();
  const pushes = (await pushCount(url)) - before;
  return {
    p50: pct(shipped.delays, 0.5),
    p99: pct(shipped.delays, 0.99),
    rps: pushes / seconds,
    seconds,
  };
}

type Recording = "parallel" | "sequential" | "none";

/**
 * What recording a batch before its send costs in the spool: its records and state synced side by side (what
 * the sender does), one after the other (`begin`), or not at all.
 */
async function spoolCost(dir: string, how: Recording, batches: number, linesPerBatch: number) {
  const spool = openSpool({ dir: join(dir, `spool-cost-${how}`), maxBytes: 1 << 30, fsync: how !== "none" });
  const records = Array.from(
    { length: linesPerBatch },
    (_, i) => `{"ts":"2025-02-12T10:56:45.123456789Z","stream":"stdout","line":"${i} compiling module_${i}"}`,
  );
  const ms: number[] = [];
  try {
    for (let b = 0; b < batches; b++) {
      spool.append(records);
      const cut = spool.cut(1 << 20)!;
      const t0 = performance.now();
      if (how === "sequential") spool.begin(cut.range, crypto.randomUUID());
      else await spool.record(cut.range, crypto.randomUUID());
      ms.push(performance.now() - t0);
      spool.settle();
    }
  } finally {
    spool.close();
  }
  return ms;
}

export async function benchWorker(o: BenchOptions): Promise<Figure> {
  const dir = join(o.dir, "worker");
  mkdirSync(dir, { recursive: true });
  await using server = await spawnBinary({}, join(dir, "server"));

  const slowLines = o.quick ? 300 : 1000;
  const fastLines = o.quick ? 20_000 : 50_000;
  const slow = await shipAt(server.url, join(dir, "spool"), "wk-slow", 100, slowLines);
  const fast = await shipAt(server.url, join(dir, "spool"), "wk-fast", 10_000, fastLines);
  // The same with the spool on tmpfs, where a sync costs nothing: what the disk's syncs add to the delay.
  const shm = existsSync("/dev/shm") ? mkdtempSync("/dev/shm/stroem-bench-spool-") : null;
  let memSlow: Shipped | null = null;
  let memFast: Shipped | null = null;
  if (shm !== null) {
    try {
      memSlow = await shipAt(server.url, shm, "wk-slow-shm", 100, slowLines);
      memFast = await shipAt(server.url, shm, "wk-fast-shm", 10_000, fastLines);
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
  }

  // Baseline: lines each POSTed on its own the moment they are made (no capture, no spool, no batching).
  const n = o.quick ? 300 : 1000;
  const direct = viewer(server.url, "wk-direct");
  await direct.opened;
  for (let i = 0; i < n; i++) {
    const body = JSON.stringify({
      step_name: "s",
      lines: [{ stream: "stdout", line: `${Date.now()} ${i}` }],
    });
    await fetch(`${server.url}/worker/jobs/wk-direct/logs`, { method: "POST", body });
    await Bun.sleep(10);
  }
  await until("every pushed line on the stream", () => direct.delays.length >= n, 30_000);
  direct.ws.close();
  const [b50, b99] = [pct(direct.delays, 0.5), pct(direct.delays, 0.99)];

  const batches = o.quick ? 100 : 300;
  const synced = await spoolCost(dir, "parallel", batches, 100);
  const sequential = await spoolCost(dir, "sequential", batches, 100);
  const unsynced = await spoolCost(dir, "none", batches, 100);
  const row = (rate: string, s: Shipped, where = "") => ({
    figure: `worker: print → visible on the stream (stroem-logs run, ${rate} lines/s${where}), p50 / p99`,
    value: `${fmt.ms(s.p50)} / ${fmt.ms(s.p99)} ms, ${fmt.int(s.rps)} pushes/s`,
    baseline: `${fmt.ms(b50)} / ${fmt.ms(b99)} ms (one POST per line, 100/s)`,
    ratio: fmt.ratio(s.p99 / Math.max(b99, 0.01)),
    target: "p99 ≤ 25 ms",
    pass: s.p99 <= 25,
  });
  return {
    rows: [
      row("100", slow),
      row("10,000", fast),
      ...(memSlow ? [row("100", memSlow, ", spool on tmpfs")] : []),
      ...(memFast ? [row("10,000", memFast, ", spool on tmpfs")] : []),
      {
        figure: "worker: recording a batch in the spool before its send (records + state synced), p50 / p99",
        value: `${fmt.ms(pct(synced, 0.5))} / ${fmt.ms(pct(synced, 0.99))} ms (syncs side by side)`,
        baseline:
          `${fmt.ms(pct(unsynced, 0.5))} / ${fmt.ms(pct(unsynced, 0.99))} ms without sync; ` +
          `${fmt.ms(pct(sequential, 0.5))} / ${fmt.ms(pct(sequential, 0.99))} ms one after the other`,
        ratio: fmt.ratio(pct(synced, 0.5) / Math.max(pct(unsynced, 0.5), 0.001)),
        target: "—",
        pass: null,
      },
    ],
    notes: [
      `worker: a child of \`stroem-logs run\` (the compiled binary, default flags) prints timestamped lines, what ` +
        `is due every 1 ms, at 100 lines/s (${slowLines} lines) and 10,000 lines/s (${fastLines} lines), spool ` +
        `on the disk of ${o.dir} and again on /dev/shm (tmpfs: its syncs cost nothing, so the difference is the disk's); delay measured on a WebSocket viewer in the bench process; pushes/s ` +
        `from the server's own request counter over the run. Baseline: lines each POSTed alone at once. Spool cost: ` +
        `recording of a 100-line batch in a spool under ${o.dir} (fdatasync of the segment and of the state slot).`,
    ],
  };
}
