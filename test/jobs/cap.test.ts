// The size-cap window on real files and a real database: segment rotation, its bounds, and a release that resumes.
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Job } from "../../src/core/job.ts";
import { createCap, lineEnds, planWindow, type ReleasePort, type Seg } from "../../src/jobs/cap.ts";
import { createLogStore } from "../../src/logs/store.ts";
import { openSqliteState } from "../../src/state/sqlite/open.ts";
import type { CapWindow as CapRow } from "../../src/state/types.ts";
import { tempDir } from "../support/server.ts";

const line = (i: number) =>
  `{"ts":"2025-02-12T10:56:45.123Z","stream":"stdout","step":"s","line":"w-${i} ${"p".repeat(1000)}"}\n`;

/** 24 MiB cap by default: segments of 6 MiB, so a release takes several 4 MiB chunks. */
async function setup(dir: string, maxJobBytes = 24 * 1024 * 1024) {
  const state = openSqliteState(join(dir, "db"));
  const store = createLogStore({ dir, maxOpenFiles: 8, fsync: false });
  const cap = createCap({ caps: state.caps, store, maxJobBytes, known: await state.caps.ids() });
  const job = { id: "j", byte_count: 12 * 1024 * 1024 } as Job;
  /** Holds a batch and commits its window, as the registry does with the batch's commit. */
  const hold = async (data: Uint8Array, j: Job = job) => state.caps.put(await cap.hold(j, data));
  /** A release into arrays; each chunk's progress commits with it, as the registry's append does. */
  const port = (events: string[], got: string[], fail?: (calls: number) => void): ReleasePort => {
    let calls = 0;
    return {
      event: async (m, w) => {
        events.push(m);
        if (w) await state.caps.put(w);
      },
      append: async (text, _lines, w) => {
        fail?.(++calls);
        got.push(...text.split("\n").filter(Boolean));
        await state.caps.put(w);
      },
    };
  };
  return { state, store, cap, job, hold, port };
}

describe("size-cap window", () => {
  test("a release interrupted after a committed chunk resumes where it stopped: every kept line once, in order", async () => {
    using dir = tempDir();
    const { cap, hold, port } = await setup(dir.path);
    let n = 0;
    for (let b = 0; b < 160; b++) {
      const text = Array.from({ length: 100 }, () => line(n++)).join("");
      await hold(new TextEncoder().encode(text));
    }
    const got: string[] = [];
    const events: string[] = [];
    // The first release dies after its first chunk was committed, as a crash would stop it.
    await expect(
      cap.release(
        "j",
        port(events, got, (calls) => {
          if (calls === 2) throw new Error("crash");
        }),
      ),
    ).rejects.toThrow("crash");
    await cap.release("j", port(events, got));
    const numbers = got.map((l) => Number(/"w-(\d+) /.exec(l)![1]));
    expect(numbers.at(-1)).toBe(n - 1);
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => n - numbers.length + i));
    expect(events.length).toBe(1);
    expect(events[0]).toMatch(/elided \d+ lines .* the last \d+ lines follow$/);
    expect(Number(/the last (\d+) lines/.exec(events[0]!)![1])).toBe(numbers.length);
    expect(readdirSync(dir.path).filter((f) => f.startsWith("~ring"))).toEqual([]);
    expect(await cap.started("j")).toBe(false);
  });

  test("a segment recorded but missing on disk is reported, not fatal", async () => {
    using dir = tempDir();
    const { cap, store, hold, port } = await setup(dir.path);
    await hold(new TextEncoder().encode(line(0) + line(1)));
    store.remove("~ring0~j");
    expect(existsSync(join(dir.path, "~ring0~j.jsonl"))).toBe(false);
    const events: string[] = [];
    await cap.release("j", port(events, []));
    expect(events).toEqual([
      `[limits] ${Buffer.byteLength(line(0) + line(1))} bytes of the size-cap window were missing on disk and could not be added`,
    ]);
  });

  test("a line longer than a release read (control characters JSON-escaped past 4 MiB) is released whole", async () => {
    using dir = tempDir();
    // Segments of 12 MiB: the long line shares one with the lines around it.
    const { cap, hold, port } = await setup(dir.path, 48 * 1024 * 1024);
    const long = `${JSON.stringify({ ts: "2025-02-12T10:56:45.123Z", stream: "stdout", step: "s", line: "\u0001".repeat(1024 * 1024) })}\n`;
    expect(Buffer.byteLength(long)).toBeGreaterThan(6 * 1024 * 1024);
    await hold(new TextEncoder().encode(line(0) + long + line(2)));
    const got: string[] = [];
    await cap.release("j", port([], got));
    expect(got.map((l) => JSON.parse(l).line.length)).toEqual([
      JSON.parse(line(0)).line.length,
      1024 * 1024,
      JSON.parse(line(2)).line.length,
    ]);
    expect(await cap.started("j")).toBe(false);
  });

  test("a window table made by an older version (without release progress) is migrated and used", async () => {
    using dir = tempDir();
    const raw = new Database(join(dir.path, "db"), { create: true, strict: true });
    raw.run(`CREATE TABLE job_caps (
      job_id TEXT PRIMARY KEY, cur INTEGER NOT NULL DEFAULT 0,
      seg0_bytes INTEGER NOT NULL DEFAULT 0, seg0_lines INTEGER NOT NULL DEFAULT 0,
      seg1_bytes INTEGER NOT NULL DEFAULT 0, seg1_lines INTEGER NOT NULL DEFAULT 0,
      elided_lines INTEGER NOT NULL DEFAULT 0, elided_bytes INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID`);
    raw.close();
    const { hold, cap, port } = await setup(dir.path);
    await hold(new TextEncoder().encode(line(0) + line(1)));
    const got: string[] = [];
    await cap.release("j", port([], got));
    expect(got).toEqual([line(0).trimEnd(), line(1).trimEnd()]);
  });

  test("a batch written to the window but never committed (a crash) is retried as if it were the first try", async () => {
    using dir = tempDir();
    // Segments of 10,000 bytes, lines of ~1 KB: the second batch switches segments twice, eliding the first.
    const first = await setup(dir.path, 40_000);
    const batch = (from: number, n: number) =>
      new TextEncoder().encode(Array.from({ length: n }, (_, i) => line(from + i)).join(""));
    await first.hold(batch(0, 9));
    await first.cap.hold(first.job, batch(9, 25)); // written, not committed: the process dies here
    first.store.closeAll();
    await first.state.close();
    const again = await setup(dir.path, 40_000);
    await again.hold(batch(9, 25));
    const got: string[] = [];
    const events: string[] = [];
    await again.cap.release("j", again.port(events, got));
    const numbers = got.map((l) => Number(/"w-(\d+) /.exec(l)![1]));
    expect(numbers.at(-1)).toBe(33);
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => 34 - numbers.length + i));
    const elided = 34 - numbers.length;
    const elidedBytes = Array.from({ length: elided }, (_, i) => line(i).length).reduce((a, b) => a + b);
    expect(events).toEqual([
      `[limits] log exceeded limits.max_job_bytes 40000: elided ${elided} lines (${elidedBytes} bytes) ` +
        `here; the last ${numbers.length} lines follow`,
    ]);
  });
});

describe("window plan", () => {
  /** Seeded PRNG (mulberry32): a failure names the seed that reproduces it. */
  const random = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    test(`random batches (seed ${seed}): the window keeps the newest lines in order, within two segments plus one line`, () => {
      const next = random(seed);
      const S = 1000;
      let row: CapRow = {
        job_id: "j",
        cur: 0,
        seg0_bytes: 0,
        seg0_lines: 0,
        seg1_bytes: 0,
        seg1_lines: 0,
        rel0: 0,
        rel1: 0,
        elided_lines: 0,
        elided_bytes: 0,
        event_done: 0,
      };
      // What each segment file holds, as [line number, size] pairs.
      const segs: Array<Array<[number, number]>> = [[], []];
      let pushed = 0;
      let pushedBytes = 0;
      let largest = 0;
      for (let b = 0; b < 300; b++) {
        // Batch sizes from one line to several windows; lines from 1 byte to three segments.
        const count = 1 + Math.floor(next() ** 3 * 60);
        const sizes = Array.from({ length: count }, () =>
          next() < 0.05 ? 1 + Math.floor(next() * 3 * S) : 1 + Math.floor(next() * 200),
        );
        const ends: number[] = [];
        for (const size of sizes) ends.push((ends.at(-1) ?? 0) + size);
        const plan = planWindow(row, ends, S);
        for (const n of plan.emptied) segs[n] = [];
        for (const w of plan.writes) {
          expect(w.at).toBe(segs[w.n]!.reduce((sum, [, size]) => sum + size, 0));
          for (let i = 0; i < count; i++) {
            const start = i === 0 ? 0 : ends[i - 1]!;
            if (start >= w.start && ends[i]! <= w.end) segs[w.n]!.push([pushed + i, sizes[i]!]);
          }
        }
        row = plan.row;
        pushed += count;
        pushedBytes += ends.at(-1)!;
        largest = Math.max(largest, ...sizes);

        const bytes = (n: Seg) => segs[n]!.reduce((sum, [, size]) => sum + size, 0);
        for (const n of [0, 1] as const) {
          // A segment stays within its limit unless it holds a single larger line.
          expect(bytes(n) <= S || segs[n]!.length === 1).toBe(true);
          expect([
            n === 0 ? row.seg0_bytes : row.seg1_bytes,
            n === 0 ? row.seg0_lines : row.seg1_lines,
          ]).toEqual([bytes(n), segs[n]!.length]);
        }
        expect(bytes(0) + bytes(1)).toBeLessThanOrEqual(2 * S + largest);
        const older = (row.cur === 0 ? 1 : 0) as Seg;
        const kept = [...segs[older]!, ...segs[row.cur as Seg]!].map(([n]) => n);
        expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => pushed - kept.length + i));
        expect([row.elided_lines + kept.length, row.elided_bytes + bytes(0) + bytes(1)]).toEqual([
          pushed,
          pushedBytes,
        ]);
      }
    });
  }

  test("lineEnds finds the end of every line of a batch", () => {
    expect(lineEnds(new TextEncoder().encode("a\nbb\n\nccc\n"))).toEqual([2, 5, 6, 10]);
  });
});
