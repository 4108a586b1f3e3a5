import { describe, expect, test } from "bun:test";
import { RunList, StepIndex } from "../../src/web/app/stepindex.ts";

describe("step index: a step view's rows ↔ the job's line numbers", () => {
  test("runs map rows to lines and back", () => {
    const r = new RunList();
    r.addRun(10, 13);
    r.add(13);
    r.add(20);
    r.addRun(30, 32);
    expect([r.count, r.lineOf(0), r.lineOf(3), r.lineOf(4), r.lineOf(6), r.lineOf(7)]).toEqual([
      7,
      10,
      13,
      20,
      31,
      null,
    ]);
    expect([
      r.rowOf(20),
      r.rowOf(21),
      r.rowAtOrAfter(0),
      r.rowAtOrAfter(21),
      r.rowAtOrAfter(31),
      r.rowAtOrAfter(99),
    ]).toEqual([4, null, 0, 5, 6, 7]);
  });

  test("a complete summary places every row; live lines past it follow", () => {
    const ix = new StepIndex(
      "b",
      {
        name: "b",
        lines: 3,
        runs: [
          [2, 4],
          [7, 8],
        ],
        runs_complete: true,
      },
      10,
    );
    ix.live(12);
    ix.live(13);
    ix.live(13); // a repeat is ignored
    expect([
      ix.complete,
      ix.count,
      ix.lineOf(2),
      ix.lineOf(3),
      ix.lineOf(4),
      ix.rowOf(12),
      ix.rowAtOrAfter(9),
    ]).toEqual([true, 5, 7, 12, 13, 3, 3]);
  });

  test("a summary cut short is completed by search pages from where its runs stop", () => {
    // 6 lines of the step below line 100, only the first two runs listed.
    const ix = new StepIndex(
      "s",
      {
        name: "s",
        lines: 6,
        runs: [
          [0, 1],
          [5, 6],
        ],
        runs_complete: false,
      },
      100,
    );
    ix.live(120);
    expect([ix.complete, ix.searchFrom, ix.count, ix.lineOf(1), ix.lineOf(2), ix.lineOf(6)]).toEqual([
      false,
      6,
      7,
      5,
      null,
      120,
    ]);
    expect(ix.rowAtOrAfter(50)).toBeNull();
    ix.extend([10, 20], 30);
    expect([ix.complete, ix.searchFrom, ix.lineOf(3), ix.lineOf(4)]).toEqual([false, 30, 20, null]);
    ix.extend([40, 90, 120], 130); // lines at or past the summary's end are the live tail's
    expect([
      ix.complete,
      ix.lineOf(4),
      ix.lineOf(5),
      ix.lineOf(6),
      ix.rowOf(90),
      ix.rowAtOrAfter(50),
    ]).toEqual([true, 40, 90, 120, 5, 5]);
  });
});
