// The per-job size cap: the head and a rolling tail are kept, the middle elided with a server event.
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { spawnServer } from "../support/process.ts";
import { makeLines, parseJsonl, startTestServer, type TestServer, tempDir } from "../support/server.ts";
import { untilEvent, waitFor } from "../support/wait.ts";

describe("max_job_bytes", () => {
  test("a runaway log keeps its first half and its last lines, and says how much was elided", async () => {
    await using s = await startTestServer({ limits: { max_job_bytes: 20_000 } });
    const total = 1000;
    const responses: Array<Record<string, unknown>> = [];
    for (let b = 0; b < total / 10; b++) {
      const r = await s.post(
        "/worker/jobs/j/logs",
        { step_name: "s", lines: makeLines(10, "l", "stdout", b * 10) },
        { "idempotency-key": `b${b}` },
      );
      responses.push((await r.json()) as Record<string, unknown>);
    }
    const held = responses.filter((r) => r.held_lines === 10);
    expect(held.length).toBeGreaterThan(0);
    const retry = await s.post(
      "/worker/jobs/j/logs",
      { step_name: "s", lines: makeLines(10, "l", "stdout", 990) },
      { "idempotency-key": "b99" },
    );
    expect(((await retry.json()) as { duplicate: boolean }).duplicate).toBe(true);

    // While running, the log holds the head and the cap event; the window waits for the end.
    const running = parseJsonl(((await (await s.fetch("/api/jobs/j/logs")).json()) as { logs: string }).logs);
    expect(running.at(-1)!.line).toStartWith(
      "[limits] log reached 10000 bytes, half of limits.max_job_bytes 20000",
    );

    await s.post("/worker/jobs/j/complete", { status: "failed" });
    // The window is appended as the job settles (before hooks, the stream's end and the archive).
    await untilEvent(
      s.events,
      "settled",
      "the job to settle",
      async () => ((await (await s.fetch("/api/jobs/j")).json()) as { settled: boolean }).settled,
    );
    const lines = parseJsonl(((await (await s.fetch("/api/jobs/j/logs")).json()) as { logs: string }).logs);
    const events = lines.filter((l) => l.step === "_server").map((l) => l.line);
    const work = lines.filter((l) => l.step !== "_server").map((l) => Number(l.line!.slice(2)));
    const head = running.length - 1;
    // The head is lines 0..head-1, the tail is a contiguous run ending at the last line pushed.
    expect(work.slice(0, head)).toEqual(Array.from({ length: head }, (_, i) => i));
    const tail = work.slice(head);
    expect(tail.at(-1)).toBe(total - 1);
    expect(tail).toEqual(Array.from({ length: tail.length }, (_, i) => total - tail.length + i));
    const elided = total - head - tail.length;
    expect(elided).toBeGreaterThan(0);
    expect(events[1]).toMatch(
      new RegExp(
        `^\\[limits\\] log exceeded limits.max_job_bytes 20000: elided ${elided} lines \\(\\d+ bytes\\) here; the last ${tail.length} lines follow$`,
      ),
    );
    expect(readdirSync(s.dir).filter((f) => f.startsWith("~ring"))).toEqual([]);

    const late = await s.post("/worker/jobs/j/logs", { step_name: "s", lines: makeLines(200, "late") });
    expect([late.status, ((await late.json()) as { code: string }).code]).toEqual([413, "job_too_large"]);
  });
});

/** A line of about `bytes` once encoded, numbered so order and duplicates can be checked. */
const sized = (n: number, bytes: number) => ({
  ts: "2025-02-12T10:56:45.123Z",
  stream: "stdout" as const,
  line: `n-${n} ${"x".repeat(Math.max(0, bytes - 80))}`,
});

/** Pushes `batches` (line sizes per batch) to job `id`, each under its own key, and ends the job. */
async function runaway(s: TestServer, id: string, batches: number[][]) {
  let n = 0;
  let maxLine = 0;
  const answers: Array<{ first: number; next: number; held_lines?: number }> = [];
  for (const [b, sizes] of batches.entries()) {
    const lines = sizes.map((size) => sized(n++, size));
    for (const l of lines)
      maxLine = Math.max(maxLine, Buffer.byteLength(JSON.stringify({ ...l, step: "s" })) + 1);
    const r = await s.post(
      `/worker/jobs/${id}/logs`,
      { step_name: "s", lines },
      { "idempotency-key": `b${b}` },
    );
    expect(r.status).toBe(200);
    answers.push((await r.json()) as { first: number; next: number; held_lines?: number });
  }
  await s.post(`/worker/jobs/${id}/complete`, { status: "failed" });
  await untilEvent(
    s.events,
    "settled",
    "the job to settle",
    async () => ((await (await s.fetch(`/api/jobs/${id}`)).json()) as { settled: boolean }).settled,
  );
  const text = await Bun.file(join(s.dir, `${id}.jsonl`)).text();
  return { pushed: n, maxLine, answers, text, lines: parseJsonl(text) };
}

describe("max_job_bytes holds within one line whatever the batch sizes", () => {
  const CAP = 64 * 1024;
  const repeat = (count: number, batch: number[]) => Array.from({ length: count }, () => batch);
  const cases: Array<[string, number[][]]> = [
    ["one small line per push", repeat(700, [200])],
    ["pushes of a quarter of the cap", repeat(24, Array(170).fill(100))],
    ["pushes larger than the whole cap", repeat(4, Array(1000).fill(100))],
    [
      "mixed sizes, with lines larger than a window segment",
      [
        Array(250).fill(100),
        [20_000],
        Array(10).fill(500),
        [17_000, 17_000],
        Array(900).fill(120),
        [18_000],
        [50],
        [17_000],
        Array(300).fill(100),
      ],
    ],
    [
      "lines larger than the whole window, one after another",
      [Array(320).fill(100), [40_000], [40_000], [40_000]],
    ],
  ];
  for (const [name, batches] of cases) {
    test(`${name}: the log ends within one line and its markers of the cap, head and last lines kept once, in order`, async () => {
      await using s = await startTestServer({ limits: { max_job_bytes: CAP } });
      const r = await runaway(s, "j", batches);
      const events = r.lines.filter((l) => l.step === "_server");
      expect(events.map((e) => e.line!.replace(/ \d+.*/, ""))).toEqual([
        "[limits] log reached",
        "[limits] log exceeded limits.max_job_bytes",
      ]);
      const markers = events.reduce((sum, e) => sum + Buffer.byteLength(JSON.stringify(e)) + 1, 0);
      const size = Buffer.byteLength(r.text);
      expect({ size, within: size <= CAP + r.maxLine + markers }).toEqual({ size, within: true });

      // Head: lines 0..h-1 before the first event; tail: a contiguous run ending at the last line pushed.
      const numbers = r.lines.map((l) => (l.step === "_server" ? -1 : Number(/^n-(\d+) /.exec(l.line!)![1])));
      const reached = numbers.indexOf(-1);
      const head = numbers.slice(0, reached);
      expect(head).toEqual(Array.from({ length: head.length }, (_, i) => i));
      expect(numbers[reached + 1]).toBe(-1);
      const tail = numbers.slice(reached + 2);
      expect(tail.length).toBeGreaterThan(0);
      expect(tail).toEqual(Array.from({ length: tail.length }, (_, i) => r.pushed - tail.length + i));
      const elided = r.pushed - head.length - tail.length;
      expect(events[1]!.line).toMatch(
        new RegExp(`elided ${elided} lines \\(\\d+ bytes\\) here; the last ${tail.length} lines follow$`),
      );
      // Every push is accounted for: the lines numbered in the head plus those held add up to what was sent.
      const numbered = r.answers.reduce((sum, a) => sum + (a.next - a.first), 0);
      const held = r.answers.reduce((sum, a) => sum + (a.held_lines ?? 0), 0);
      expect([numbered, numbered + held]).toEqual([head.length, r.pushed]);
    });
  }

  test("a batch split between the head and the window is retried under its key: same answer, written once", async () => {
    await using s = await startTestServer({ limits: { max_job_bytes: CAP } });
    const lines = Array.from({ length: 1000 }, (_, i) => sized(i, 100));
    const push = async () =>
      (await (
        await s.post("/worker/jobs/j/logs", { step_name: "s", lines }, { "idempotency-key": "k" })
      ).json()) as Record<string, unknown>;
    const first = await push();
    expect(first.first).toBe(0);
    expect(first.next).toBeGreaterThan(0);
    expect((first.next as number) + (first.held_lines as number)).toBe(1000);
    expect(await push()).toEqual({ ...first, duplicate: true });
    await s.post("/worker/jobs/j/complete", { status: "completed" });
    await untilEvent(
      s.events,
      "settled",
      "the job to settle",
      async () => ((await (await s.fetch("/api/jobs/j")).json()) as { settled: boolean }).settled,
    );
    const work = parseJsonl(await Bun.file(join(s.dir, "j.jsonl")).text()).filter(
      (l) => l.step !== "_server",
    );
    const numbers = work.map((l) => Number(/^n-(\d+) /.exec(l.line!)![1]));
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(numbers.at(-1)).toBe(999);
  });

  test("kill -9 during capped ingest of mixed batch sizes, 6 times with retries under the same keys: nothing twice, order kept, within the bound", async () => {
    using dir = tempDir();
    const limits = { max_job_bytes: CAP };
    const sizes = [1, 40, 170, 700, 3, 1200];
    const body = (b: number, from: number) =>
      JSON.stringify({
        step_name: "s",
        lines: Array.from({ length: sizes[b % sizes.length]! }, (_, i) => sized(from + i, 100)),
      });
    const send = (url: string, b: number, from: number) =>
      fetch(`${url}/worker/jobs/j/logs`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": `b${b}` },
        body: body(b, from),
      });
    let b = 0;
    let n = 0;
    let last: { b: number; from: number; answer: unknown } | null = null;
    for (let round = 0; round < 6; round++) {
      await using srv = await spawnServer({ limits }, { dir: dir.path });
      if (last !== null) {
        // The last acknowledged batch, re-sent after the kill: answered as before, written nowhere.
        const again = await send(srv.url, last.b, last.from);
        expect(await again.json()).toEqual({ ...(last.answer as object), duplicate: true });
      }
      // The batch in flight at the kill, written or not, is re-sent under its key as a worker would.
      let killed = false;
      for (const target = b + 8; ; ) {
        let answer: unknown;
        try {
          const res = await send(srv.url, b, n);
          expect(res.status).toBe(200);
          answer = await res.json();
        } catch (e) {
          if (killed) break; // the server went away mid-request
          throw e;
        }
        last = { b, from: n, answer };
        n += sizes[b % sizes.length]!;
        b++;
        if (b === target) {
          killed = true;
          void srv.stop("SIGKILL");
        }
      }
    }
    await using srv = await spawnServer({ limits }, { dir: dir.path });
    const res = await send(srv.url, b, n);
    expect(res.status).toBe(200);
    n += sizes[b % sizes.length]!;
    await fetch(`${srv.url}/worker/jobs/j/complete`, { method: "POST", body: '{"status":"completed"}' });
    await waitFor(
      "the job to settle",
      async () => ((await (await fetch(`${srv.url}/api/jobs/j`)).json()) as { settled: boolean }).settled,
    );
    const text = await Bun.file(join(dir.path, "logs", "j.jsonl")).text();
    const lines = parseJsonl(text);
    const numbers = lines.map((l) => (l.step === "_server" ? -1 : Number(/^n-(\d+) /.exec(l.line!)![1])));
    const reached = numbers.indexOf(-1);
    const head = numbers.slice(0, reached);
    expect(head).toEqual(Array.from({ length: head.length }, (_, i) => i));
    expect(numbers[reached + 1]).toBe(-1);
    const tail = numbers.slice(reached + 2);
    expect(tail).toEqual(Array.from({ length: tail.length }, (_, i) => n - tail.length + i));
    const markers = lines
      .filter((l) => l.step === "_server")
      .reduce((sum, e) => sum + Buffer.byteLength(JSON.stringify(e)) + 1, 0);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(CAP + 200 + markers);
  }, 60_000);
});
