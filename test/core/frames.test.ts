// The live stream's pure rules: live-or-catch-up decisions, cursor moves on send statuses, frames, close reasons.
import { describe, expect, test } from "bun:test";
import {
  afterSend,
  FrameBuilder,
  filteredFrame,
  isDone,
  liveAction,
  splitRun,
  startCursor,
} from "../../src/core/frames.ts";
import { closeReason, overBudgetReason, resumeFromOf, statusOfReason } from "../../src/protocol/close.ts";

describe("liveAction", () => {
  test("a live frame goes only to a live viewer whose cursor is the run's first line", () => {
    const run = { first: 10, next: 15, bytes: 500 };
    expect([
      liveAction({ cursor: 10, live: true }, run, 1000),
      liveAction({ cursor: 8, live: true }, run, 1000), // missed lines 8-9: read them from the file
      liveAction({ cursor: 12, live: true }, run, 1000), // a from inside the run: the file has it
      liveAction({ cursor: 15, live: true }, run, 1000), // already has the whole run
      liveAction({ cursor: 20, live: true }, run, 1000), // asked to start later
      liveAction({ cursor: 10, live: false }, run, 1000), // catching up or blocked: the file will serve it
      liveAction({ cursor: 10, live: true }, { ...run, bytes: 5000 }, 1000), // too big for one frame
    ]).toEqual(["send", "catch-up", "catch-up", "skip", "skip", "skip", "catch-up"]);
  });
});

describe("afterSend", () => {
  test("the cursor moves only for accepted frames; back-pressure and drops both block", () => {
    expect([afterSend(512, 10, 20), afterSend(-1, 10, 20), afterSend(0, 10, 20)]).toEqual([
      { cursor: 20, blocked: false },
      { cursor: 20, blocked: true },
      { cursor: 10, blocked: true },
    ]);
  });
});

describe("cursors and the end of a stream", () => {
  test("start: from, skip_backfill at the current end, or line 0", () => {
    expect([
      startCursor({ skipBackfill: false }, 42),
      startCursor({ from: 7, skipBackfill: false }, 42),
      startCursor({ skipBackfill: true }, 42),
    ]).toEqual([0, 7, 42]);
  });

  test("a viewer is done once the job is settled and its cursor reached the end", () => {
    expect([
      isDone(5, { settled_at: 1, line_count: 5 }),
      isDone(4, { settled_at: 1, line_count: 5 }),
      isDone(5, { settled_at: null, line_count: 5 }),
      isDone(0, null),
    ]).toEqual([true, false, false, false]);
  });

  test("the close reason names the status and reads back", () => {
    expect([
      closeReason("failed"),
      statusOfReason("job failed"),
      statusOfReason("server shutting down"),
    ]).toEqual(["job failed", "failed", null]);
  });
});

describe("frames", () => {
  test("a run splits into its lines; a filter keeps the matching ones as a frame", () => {
    const lines = splitRun("a\nbb\nc\n");
    expect([lines, filteredFrame(lines, (l) => l.length === 1), filteredFrame(lines, () => false)]).toEqual([
      ["a", "bb", "c"],
      "a\nc\n",
      "",
    ]);
  });

  test("the builder fills frames of complete lines up to the byte limit, a long line alone", () => {
    const b = new FrameBuilder(10);
    const frames: string[] = [];
    for (const l of ["aaa", "bbb", "ccc", "dddddddddddddd", "é"]) if (b.add(l)) frames.push(b.take());
    frames.push(b.take());
    expect(frames).toEqual(["aaa\nbbb\nccc\n", "dddddddddddddd\n", "é\n"]);
    expect(b.empty).toBe(true);
  });
});

describe("over-budget close reason", () => {
  test("says where to resume, fits a close frame at the largest values, and is read back", () => {
    const reason = overBudgetReason(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
    expect([
      overBudgetReason(268435456, 1200),
      resumeFromOf(overBudgetReason(268435456, 1200)),
      resumeFromOf(reason),
      resumeFromOf("job completed"),
    ]).toEqual([
      "too slow: over stream.max_buffered_bytes 268435456; resume with from=1200",
      1200,
      Number.MAX_SAFE_INTEGER,
      null,
    ]);
  });
});
