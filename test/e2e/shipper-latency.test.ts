import { expect, test } from "bun:test";
import { startTestServer, tempDir } from "../support/server.ts";
import { watch } from "../support/ws.ts";
import { BUN, shipper } from "./shipper-helpers.ts";

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

/**
 * Runs a printer of `lines` lines, one every `everyMs`, each carrying its print time, under `run` with
 * `shipArgs`; returns the delays seen.
 */
async function measure(job: string, lines: number, everyMs: number, shipArgs: string[] = []) {
  await using server = await startTestServer();
  using spool = tempDir();
  const put = await server.fetch(`/api/jobs/${job}`, { method: "PUT", body: '{"workspace":"w","task":"t"}' });
  expect(put.ok).toBe(true);
  using viewer = watch(server.url, job);
  await viewer.opened;
  const delays: number[] = [];
  viewer.ws.addEventListener("message", (e) => {
    const now = Date.now();
    for (const text of (e.data as string).split("\n")) {
      if (text !== "") delays.push(now - Number((JSON.parse(text) as { line: string }).line.split(" ")[0]));
    }
  });
  const printer = `
    const fs = require("node:fs");
    let i = 0;
    const t = setInterval(() => {
      fs.writeSync(1, Date.now() + " " + i++ + "\\n");
      if (i === ${lines}) clearInterval(t);
    }, ${everyMs});`;
  await using run = shipper([
    "run",
    ...["--server", server.url, "--job", job, "--step", "s", "--spool", spool.path, "--quiet"],
    ...shipArgs,
    "--",
    ...[BUN, "-e", printer],
  ]);
  expect(await run.exited).toBe(0);
  await viewer.waitLines(lines);
  const sorted = delays.toSorted((a, b) => a - b);
  const figures = { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1)! };
  console.log(
    `print → visible on the stream, ${lines} lines every ${everyMs} ms ${shipArgs.join(" ")}: ${JSON.stringify(figures)} ms`,
  );
  return { count: delays.length, ...figures };
}

// The README records the figures; the bounds only catch a broken batcher, with margins a busy CI machine
// (which adds tens, at times hundreds, of ms to every hop: printer → shipper → server → viewer) cannot
// erase. A batcher that held lines until the end of this 3 s run shows a p50 around 1.5 s; "at once while
// nothing is in flight" is checked exactly, against a gated server, in test/shipper/sender.test.ts.
test("a steady producer's lines are visible on the live stream milliseconds after printing, not a batch interval later", async () => {
  const r = await measure("lat-steady", 300, 10);
  // Was p50 55-69 ms with a 100 ms batch interval; ~3-13 ms at load 10 on 2 cores with the 10 ms gap.
  expect({ count: r.count, p50: r.p50 < 500, p99: r.p99 < 2000 }).toEqual({
    count: 300,
    p50: true,
    p99: true,
  });
});

// At the default 10 ms gap, "held for the gap" and "a loaded machine" look alike; at 800 ms
// a held line shows at least 800 ms, against a bound of half that. Lines 1.2 s apart are each after a quiet
// spell longer than the interval, even when the printer's timer fires late.
test("a line printed after a quiet spell is sent at once, not held for the flush interval", async () => {
  const r = await measure("lat-sparse", 6, 1200, ["--flush-interval", "800ms"]);
  expect({ count: r.count, p50: r.p50 < 400 }).toEqual({ count: 6, p50: true });
});
