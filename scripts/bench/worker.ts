// Figure: print → visible on the live stream through `stroem-logs run` on a worker, vs one POST per line.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type BenchOptions, BIN, type Figure, fmt, spawnBinary, until } from "./common.ts";

const EVERY_MS = 10;

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

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? Number.NaN;
};

export async function benchWorker(o: BenchOptions): Promise<Figure> {
  const lines = o.quick ? 200 : 1000;
  const dir = join(o.dir, "worker");
  mkdirSync(dir, { recursive: true });
  await using server = await spawnBinary({}, join(dir, "server"));

  // stroem-logs run (the compiled binary) capturing a command that prints a timestamped line every 10 ms.
  const shipped = viewer(server.url, "wk-run");
  await shipped.opened;
  const printer = `let i = 0; const t = setInterval(() => { require("node:fs").writeSync(1, Date.now() + " " + i++ + "\\n"); if (i === ${lines}) clearInterval(t); }, ${EVERY_MS});`;
  const run = Bun.spawn(
    [
      BIN,
      "run",
      "--job",
      "wk-run",
      "--step",
      "s",
      "--server",
      server.url,
      "--spool",
      join(dir, "spool"),
      "--quiet",
      "--",
      process.execPath,
      "-e",
      printer,
    ],
    { stdout: "ignore", stderr: "pipe" },
  );
  if ((await run.exited) !== 0)
    throw new Error(`bench: run exited ${run.exitCode}: ${await new Response(run.stderr).text()}`);
  await until("every shipped line on the stream", () => shipped.delays.length >= lines, 30_000);
  shipped.ws.close();

  // Baseline: the same lines, each POSTed on its own the moment it is made (no capture, no batching).
  const direct = viewer(server.url, "wk-direct");
  await direct.opened;
  for (let i = 0; i < lines; i++) {
    const body = JSON.stringify({
      step_name: "s",
      lines: [{ stream: "stdout", line: `${Date.now()} ${i}` }],
    });
    await fetch(`${server.url}/worker/jobs/wk-direct/logs`, { method: "POST", body });
    await Bun.sleep(EVERY_MS);
  }
  await until("every pushed line on the stream", () => direct.delays.length >= lines, 30_000);
  direct.ws.close();

  const [p50, p99] = [pct(shipped.delays, 0.5), pct(shipped.delays, 0.99)];
  const [b50, b99] = [pct(direct.delays, 0.5), pct(direct.delays, 0.99)];
  return {
    rows: [
      {
        figure: `worker: print → visible on the stream (stroem-logs run, ${1000 / EVERY_MS} lines/s), p50 / p99`,
        value: `${fmt.ms(p50)} / ${fmt.ms(p99)} ms`,
        baseline: `${fmt.ms(b50)} / ${fmt.ms(b99)} ms (one POST per line)`,
        ratio: fmt.ratio(p99 / Math.max(b99, 0.01)),
        target: "p99 ≤ 200 ms",
        pass: p99 <= 200,
      },
    ],
    notes: [
      `worker: ${lines} lines printed ${EVERY_MS} ms apart by a child of \`stroem-logs run\` (the compiled binary, default --flush-interval 100ms), timestamp in the line, delay measured on a WebSocket viewer in the bench process; baseline: the same lines each POSTed alone at once.`,
    ],
  };
}
