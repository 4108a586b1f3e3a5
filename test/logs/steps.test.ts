import { describe, expect, test } from "bun:test";
import { createStepScan, MAX_RUNS } from "../../src/logs/steps.ts";

const line = (step: string, stream = "stdout", text = "x") =>
  JSON.stringify({ ts: "2025-02-12T10:56:45.123Z", stream, step, line: text });

function scan(lines: string[], cuts: number[] = []) {
  const s = createStepScan();
  const text = Buffer.from(lines.map((l) => `${l}\n`).join(""));
  // Feed in blocks of whole lines, cut after the given line numbers.
  const ends = [
    ...cuts.map((c) => lines.slice(0, c).reduce((n, l) => n + Buffer.byteLength(l) + 1, 0)),
    text.length,
  ];
  let at = 0;
  for (const end of ends) {
    s.feed(text, at, end);
    at = end;
  }
  return s.answer("local");
}

describe("steps summary scan", () => {
  test("each step's lines, first and last line, streams and runs; the last line's step", () => {
    const lines = [
      line("a"),
      line("a", "stderr"),
      line("b"),
      line("a"),
      line("_server", "stderr"),
      line("b"),
    ];
    expect(scan(lines)).toEqual({
      source: "local",
      lines: 6,
      steps: [
        {
          name: "a",
          lines: 3,
          first: 0,
          last: 3,
          stdout: 2,
          stderr: 1,
          runs: [
            [0, 2],
            [3, 4],
          ],
          runs_complete: true,
        },
        {
          name: "b",
          lines: 2,
          first: 2,
          last: 5,
          stdout: 2,
          stderr: 0,
          runs: [
            [2, 3],
            [5, 6],
          ],
          runs_complete: true,
        },
        {
          name: "_server",
          lines: 1,
          first: 4,
          last: 4,
          stdout: 0,
          stderr: 1,
          runs: [[4, 5]],
          runs_complete: true,
        },
      ],
      last_step: "b",
      other_lines: 0,
      steps_truncated: false,
    });
  });

  test("the answer does not depend on where the blocks were cut", () => {
    const lines = Array.from({ length: 50 }, (_, i) =>
      line(i % 3 === 0 ? "x" : "y", i % 5 === 0 ? "stderr" : "stdout"),
    );
    const whole = scan(lines);
    expect(scan(lines, [1, 2, 17, 30, 49])).toEqual(whole);
  });

  test("step names with quotes, backslashes and non-ASCII letters; lines in another key order; text that is not JSON", () => {
    const odd = 'say "hi" \\ there';
    const lines = [
      line(odd),
      line("bygg-ø"),
      JSON.stringify({ line: "reordered", step: "bygg-ø", ts: "2025-02-12T10:56:45.123Z", stream: "stderr" }),
      "not json at all",
      "",
      line(odd),
      `{"ts":"x","stream":"stdout","step":"fake","line":`, // cut off: not a line object
    ];
    const a = scan(lines);
    expect(a.steps.map((s) => [s.name, s.lines, s.stderr, s.runs])).toEqual([
      [
        odd,
        2,
        0,
        [
          [0, 1],
          [5, 6],
        ],
      ],
      ["bygg-ø", 2, 1, [[1, 3]]],
    ]);
    expect([a.lines, a.other_lines, a.last_step]).toEqual([7, 3, null]);
  });

  test(`a step with more than ${MAX_RUNS} runs keeps its first ones and says the list is cut; counts stay exact`, () => {
    const lines = Array.from({ length: 2 * MAX_RUNS + 10 }, (_, i) => line(i % 2 === 0 ? "even" : "odd"));
    const even = scan(lines).steps[0]!;
    expect([even.name, even.lines, even.runs.length, even.runs_complete, even.runs[MAX_RUNS - 1]]).toEqual([
      "even",
      MAX_RUNS + 5,
      MAX_RUNS,
      false,
      [2 * (MAX_RUNS - 1), 2 * (MAX_RUNS - 1) + 1],
    ]);
  });
});
