// The size-cap window on real files and a real database: segment rotation, and a release that resumes.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createCap } from "../../src/jobs/cap.ts";
import { type JobRow, openDb } from "../../src/jobs/db.ts";
import { createLogStore } from "../../src/logs/store.ts";
import { tempDir } from "../support/server.ts";

const line = (i: number) =>
  `{"ts":"2025-02-12T10:56:45.123Z","stream":"stdout","step":"s","line":"w-${i} ${"p".repeat(1000)}"}\n`;

function setup(dir: string) {
  const db = openDb(join(dir, "db"));
  const store = createLogStore({ dir, maxOpenFiles: 8, fsync: false });
  // 24 MiB cap: segments of 6 MiB, so a release takes several 4 MiB chunks.
  const cap = createCap({ db, store, maxJobBytes: 24 * 1024 * 1024 });
  const job = { id: "j", byte_count: 12 * 1024 * 1024 } as JobRow;
  return { db, store, cap, job };
}

describe("size-cap window", () => {
  test("a release interrupted after a committed chunk resumes where it stopped: every kept line once, in order", async () => {
    using dir = tempDir();
    const { cap, job } = setup(dir.path);
    let n = 0;
    for (let b = 0; b < 160; b++) {
      const text = Array.from({ length: 100 }, () => line(n++)).join("");
      cap.hold(job, new TextEncoder().encode(text), 100, () => {});
    }
    const got: string[] = [];
    const events: string[] = [];
    let calls = 0;
    // The first release dies after its first chunk was committed, as a crash would stop it.
    await expect(
      cap.release(
        "j",
        (m) => events.push(m),
        (text) => {
          if (++calls === 2) throw new Error("crash");
          got.push(...text.split("\n").filter(Boolean));
        },
      ),
    ).rejects.toThrow("crash");
    await cap.release(
      "j",
      (m) => events.push(m),
      (text) => got.push(...text.split("\n").filter(Boolean)),
    );
    const numbers = got.map((l) => Number(/"w-(\d+) /.exec(l)![1]));
    expect(numbers.at(-1)).toBe(n - 1);
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => n - numbers.length + i));
    expect(events.length).toBe(1);
    expect(events[0]).toMatch(/elided \d+ lines .* the last \d+ lines follow$/);
    expect(Number(/the last (\d+) lines/.exec(events[0]!)![1])).toBe(numbers.length);
    expect(readdirSync(dir.path).filter((f) => f.startsWith("~ring"))).toEqual([]);
    expect(cap.started("j")).toBe(false);
  });

  test("a segment recorded but missing on disk is reported, not fatal", async () => {
    using dir = tempDir();
    const { cap, store, job } = setup(dir.path);
    cap.hold(job, new TextEncoder().encode(line(0) + line(1)), 2, () => {});
    store.remove("~ring0~j");
    expect(existsSync(join(dir.path, "~ring0~j.jsonl"))).toBe(false);
    const events: string[] = [];
    await cap.release(
      "j",
      (m) => events.push(m),
      () => {},
    );
    expect(events).toEqual([
      `[limits] ${Buffer.byteLength(line(0) + line(1))} bytes of the size-cap window were missing on disk and could not be added`,
    ]);
  });

  test("a line longer than a release read (control characters JSON-escaped past 4 MiB) is released whole", async () => {
    using dir = tempDir();
    const { cap, job } = setup(dir.path);
    const long = `${JSON.stringify({ ts: "2025-02-12T10:56:45.123Z", stream: "stdout", step: "s", line: "\u0001".repeat(1024 * 1024) })}\n`;
    expect(Buffer.byteLength(long)).toBeGreaterThan(6 * 1024 * 1024);
    cap.hold(job, new TextEncoder().encode(line(0) + long + line(2)), 3, () => {});
    const got: string[] = [];
    await cap.release(
      "j",
      () => {},
      (text) => got.push(...text.split("\n").filter(Boolean)),
    );
    expect(got.map((l) => JSON.parse(l).line.length)).toEqual([
      JSON.parse(line(0)).line.length,
      1024 * 1024,
      JSON.parse(line(2)).line.length,
    ]);
    expect(cap.started("j")).toBe(false);
  });

  test("a window table made by an older version (without release progress) is migrated and used", async () => {
    using dir = tempDir();
    const db = openDb(join(dir.path, "db"));
    db.sqlite.run(`CREATE TABLE job_caps (
      job_id TEXT PRIMARY KEY, cur INTEGER NOT NULL DEFAULT 0,
      seg0_bytes INTEGER NOT NULL DEFAULT 0, seg0_lines INTEGER NOT NULL DEFAULT 0,
      seg1_bytes INTEGER NOT NULL DEFAULT 0, seg1_lines INTEGER NOT NULL DEFAULT 0,
      elided_lines INTEGER NOT NULL DEFAULT 0, elided_bytes INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID`);
    const store = createLogStore({ dir: dir.path, maxOpenFiles: 8, fsync: false });
    const cap = createCap({ db, store, maxJobBytes: 24 * 1024 * 1024 });
    cap.hold(
      { id: "j", byte_count: 12 * 1024 * 1024 } as JobRow,
      new TextEncoder().encode(line(0) + line(1)),
      2,
      () => {},
    );
    const got: string[] = [];
    await cap.release(
      "j",
      () => {},
      (text) => got.push(...text.split("\n").filter(Boolean)),
    );
    expect(got).toEqual([line(0).trimEnd(), line(1).trimEnd()]);
  });
});
