// The per-job size cap: the head and a rolling tail are kept, the middle elided with a server event.
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { makeLines, parseJsonl, startTestServer } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";

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
    await waitFor(
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
