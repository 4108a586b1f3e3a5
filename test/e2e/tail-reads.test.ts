// Tails and cursors against a reference: every tier and filter returns exactly the lines a naive reading gives.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer } from "../support/server.ts";

/** A seeded PRNG (mulberry32), so a failure names a seed that reproduces it. */
function rng(seed: number) {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

interface Line {
  ts: string;
  stream: "stdout" | "stderr";
  step: string;
  line: string;
}

/**
 * ~2,400 pushes and 300 reads of logs of a few MB (with lines over a 256 KiB scan block): ~7 s of CPU,
 * 17-33 s on a busy machine and over 60 s in a suite run with two busy loops beside it. The deadline only
 * catches a hang.
 */
const SEEDED_DEADLINE_MS = 240_000;

describe("tail reads", () => {
  test(
    "tail, from and filters agree with a reference on local (with and without a row) logs, seeded",
    async () => {
      await using s = await startTestServer();
      const rand = rng(7);
      for (let round = 0; round < 6; round++) {
        // Lines of varied length (some over a 256 KiB scan block, some multibyte) in a few steps.
        const log: Line[] = Array.from({ length: 200 + rand(400) }, (_, i) => ({
          ts: "2025-02-12T10:56:45.123Z",
          stream: rand(3) === 0 ? "stderr" : "stdout",
          step: ["build", "test", "build-notify"][rand(3)]!,
          line: `${i} ${"é".repeat(rand(20))}${rand(50) === 0 ? "x".repeat(300_000) : ""}`,
        }));
        const text = log.map((l) => `${JSON.stringify(l)}\n`).join("");
        const withRow = `row${round}`;
        const rowless = `file${round}`;
        for (let b = 0; b < log.length; b += 50) {
          for (const l of log.slice(b, b + 50)) {
            await s.post(`/worker/jobs/${withRow}/logs`, {
              step_name: l.step,
              lines: [{ ts: l.ts, stream: l.stream, line: l.line }],
            });
          }
        }
        writeFileSync(join(s.dir, `${rowless}.jsonl`), text);
        for (let q = 0; q < 25; q++) {
          const step = [undefined, "build", "test", "nope"][rand(4)];
          const stream = [undefined, "stdout", "stderr"][rand(3)] as Line["stream"] | undefined;
          const from = rand(2) === 0 ? 0 : rand(log.length + 20);
          const tail = rand(4) === 0 ? 1e12 : rand(60);
          const matches = log.filter(
            (l, n) =>
              n >= from &&
              (step === undefined || l.step === step) &&
              (stream === undefined || l.stream === stream),
          );
          const want = tail === 0 ? [] : matches.slice(-tail);
          for (const id of [withRow, rowless]) {
            const params = new URLSearchParams({ tail: String(tail), from: String(from), format: "ndjson" });
            if (stream) params.set("stream", stream);
            const path = step === undefined ? `/api/jobs/${id}/logs` : `/api/jobs/${id}/steps/${step}/logs`;
            const got = (await (await s.fetch(`${path}?${params}`)).text()).split("\n").filter(Boolean);
            expect({
              round,
              q,
              id,
              step,
              stream,
              from,
              tail,
              got: got.map((g) => JSON.parse(g).line),
            }).toEqual({
              round,
              q,
              id,
              step,
              stream,
              from,
              tail,
              got: want.map((l) => l.line),
            });
          }
        }
      }
    },
    SEEDED_DEADLINE_MS,
  );

  test("a tail of a legacy log and of a file without a row honours the count", async () => {
    await using s = await startTestServer();
    writeFileSync(join(s.dir, "old.log"), "a\nb\nc\nd\ne\n");
    writeFileSync(
      join(s.dir, "adopted.jsonl"),
      ["a", "b", "c", "d", "e"]
        .map((l) => `{"ts":"2025-02-12T10:56:45.123Z","stream":"stdout","step":"s","line":"${l}"}\n`)
        .join(""),
    );
    const legacy = (await (await s.fetch("/api/jobs/old/logs?tail=2")).json()) as Record<string, unknown>;
    const adopted = (await (await s.fetch("/api/jobs/adopted/logs?tail=2")).json()) as Record<
      string,
      unknown
    >;
    const step = (await (await s.fetch("/api/jobs/adopted/steps/s/logs?tail=2")).json()) as Record<
      string,
      unknown
    >;
    expect([legacy.logs, legacy.from, legacy.next, adopted.from, adopted.next, step.from]).toEqual([
      "d\ne\n",
      3,
      5,
      3,
      5,
      3,
    ]);
  });
});
