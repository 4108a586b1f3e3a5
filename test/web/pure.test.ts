import { describe, expect, test } from "bun:test";
import { bytes, clock, dateTime, duration } from "../../src/web/app/format.ts";
import { endOf, filenameOf, lineFromHash, retryDelay } from "../../src/web/app/links.ts";
import { splitJsonl, toViewLine } from "../../src/web/app/logline.ts";
import { MAX_GAP, MIN_GAP, redrawGap } from "../../src/web/app/pace.ts";
import { lineTester, lowerBound, markRanges } from "../../src/web/app/search.ts";

describe("the page's pure helpers", () => {
  test("arriving lines are redrawn 4 redraw-costs apart, between ~30 a second and the lag budget's limit", () => {
    expect([0, 5, 8.3, 20, 30, 31, 500].map(redrawGap)).toEqual([
      MIN_GAP,
      MIN_GAP,
      MIN_GAP,
      80,
      MAX_GAP,
      MAX_GAP,
      MAX_GAP,
    ]);
    expect([MIN_GAP, MAX_GAP]).toEqual([33, 120]);
  });

  test("line links count from 1; anything else is no line", () => {
    expect([
      lineFromHash("#L1"),
      lineFromHash("#L1234"),
      lineFromHash("#L0"),
      lineFromHash("#x"),
      lineFromHash(""),
    ]).toEqual([0, 1233, 0, null, null]);
  });

  test("the stream ends on a normal close naming the job's status; any other close is resumed, 100 ms doubling to 5 s", () => {
    expect([
      endOf(1000, "job failed"),
      endOf(1001, "server shutting down"),
      endOf(1006, ""),
      endOf(1000, "viewer left"),
    ]).toEqual(["failed", null, null, null]);
    expect([0, 1, 2, 5, 6, 20].map(retryDelay)).toEqual([100, 200, 400, 3200, 5000, 5000]);
  });

  test("a download's file name from Content-Disposition, the exact UTF-8 form first", () => {
    expect(filenameOf(`attachment; filename="u-byg__.jsonl"; filename*=UTF-8''u-byg%2F%C3%B8.jsonl`)).toBe(
      "u-byg/ø.jsonl",
    );
    expect(filenameOf('attachment; filename="a.log"')).toBe("a.log");
    expect(filenameOf(null)).toBeNull();
  });

  test("stored lines become view lines; a text line is a line of no step", () => {
    expect(
      toViewLine(7, '{"ts":"2025-02-12T10:56:45.123Z","stream":"stderr","step":"b","line":"x"}'),
    ).toEqual({
      n: 7,
      ts: "2025-02-12T10:56:45.123Z",
      stream: "stderr",
      step: "b",
      text: "x",
    });
    expect(toViewLine(1, "{not json")).toEqual({
      n: 1,
      ts: "",
      stream: "stdout",
      step: "",
      text: "{not json",
    });
    expect([splitJsonl(""), splitJsonl("a\nb\n"), splitJsonl("a")]).toEqual([[], ["a", "b"], ["a"]]);
  });

  test("live lines are tested as the server tests them; marks cover each occurrence", () => {
    expect(lineTester({ text: "a.b", regex: false, icase: false })!("xa.by")).toBe(true);
    expect(lineTester({ text: "a.b", regex: false, icase: false })!("axb")).toBe(false);
    expect(lineTester({ text: "A.B", regex: false, icase: true })!("xa.by")).toBe(true);
    expect(lineTester({ text: "^a\\d", regex: true, icase: false })!("a1")).toBe(true);
    expect(lineTester({ text: "(", regex: true, icase: false })).toBeNull();
    expect(markRanges({ text: "ab", regex: false, icase: true })("xABab")).toEqual([
      [1, 3],
      [3, 5],
    ]);
    expect(markRanges({ text: "x*", regex: true, icase: false })("axxb")).toEqual([[1, 3]]);
    expect([
      lowerBound([1, 3, 5], 0),
      lowerBound([1, 3, 5], 3),
      lowerBound([1, 3, 5], 4),
      lowerBound([1, 3, 5], 9),
    ]).toEqual([0, 1, 2, 3]);
  });

  test("sizes, durations and times", () => {
    expect([bytes(512), bytes(1536), bytes(5 * 1024 ** 3)]).toEqual(["512 B", "1.5 KiB", "5.0 GiB"]);
    expect([duration(1234), duration(75_000), duration(3 * 3600_000 + 60_000), duration(-1)]).toEqual([
      "1.2 s",
      "1 min 15 s",
      "3 h 1 min",
      "—",
    ]);
    expect([
      clock("2025-02-12T10:56:45.123456789Z", true),
      clock("2025-02-12T10:56:45Z", true),
      clock("junk", true),
    ]).toEqual(["10:56:45.123", "10:56:45.000", "junk"]);
    expect(dateTime("2025-02-12T10:56:45.123Z", true)).toBe("2025-02-12 10:56:45 UTC");
  });
});
