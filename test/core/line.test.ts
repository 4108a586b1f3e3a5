import { describe, expect, test } from "bun:test";
import {
  encodeBatch,
  encodeEvent,
  encodeLine,
  makeMatcher,
  maskStored,
  truncateLine,
} from "../../src/core/line.ts";
import { normalizeTs } from "../../src/protocol/timestamp.ts";

describe("log line", () => {
  test("a line is encoded compact with keys in the contract's order", () => {
    expect(encodeLine("2025-02-12T10:56:45.123Z", "stdout", JSON.stringify("say-hello"), "Hello World")).toBe(
      '{"ts":"2025-02-12T10:56:45.123Z","stream":"stdout","step":"say-hello","line":"Hello World"}\n',
    );
  });

  test("quotes, newlines, control characters and lone surrogates stay on one valid JSON line", () => {
    const text = encodeLine(
      "2025-02-12T10:56:45.123Z",
      "stderr",
      JSON.stringify('a"b'),
      'x\n"y"\u0000\ud800',
    );
    expect(text.indexOf("\n")).toBe(text.length - 1);
    expect(JSON.parse(text)).toEqual({
      ts: "2025-02-12T10:56:45.123Z",
      stream: "stderr",
      step: 'a"b',
      line: 'x\n"y"\u0000\ud800',
    });
  });

  // Until issue 12 every timestamp was cut to milliseconds (`.123456789Z` → `.123Z`, `45Z` → `45.000Z`). Strøm
  // stores what its worker sent — nanoseconds on Linux — and so do we now: `Z` forms as they are, other forms
  // converted to UTC keeping every digit.
  test("a valid UTC timestamp is kept byte for byte, whatever its precision", () => {
    const stamps = [
      "2025-02-12T10:56:45.123Z",
      "2025-02-12T10:56:45Z",
      "2025-02-12T10:56:45.5Z",
      "2025-02-12T10:56:45.722103Z",
      "2025-02-12T10:56:45.722000001Z",
      "2025-02-12T10:56:45.123456789012Z",
    ];
    expect(stamps.map(normalizeTs)).toEqual(stamps);
  });

  test("other ISO 8601 forms are converted to UTC keeping every digit, and non-ISO text is refused", () => {
    expect([
      normalizeTs("2025-02-12T10:56:45.722000001+00:00"),
      normalizeTs("2025-02-12T12:56:45.5+02:00"),
      normalizeTs("2025-02-12 09:26:45,123456-01:30"),
      normalizeTs("2025-02-12T10:56:45.1z"),
      normalizeTs("2025-02-12T10:56Z"),
      normalizeTs("2025-02-12T11:56:45+0100"),
      normalizeTs("0000-01-01T00:30:00.25+01:00"),
      normalizeTs("yesterday"),
      normalizeTs("2025-13-12T10:56:45.123Z"),
      normalizeTs("1739357805"),
      normalizeTs("2025-02-12T10:56:60Z"),
      normalizeTs("2025-02-12T10:56:45.Z"),
      normalizeTs("2025-02-12T10:56:45+02"),
    ]).toEqual([
      "2025-02-12T10:56:45.722000001Z",
      "2025-02-12T10:56:45.5Z",
      "2025-02-12T10:56:45.123456Z",
      "2025-02-12T10:56:45.1Z",
      "2025-02-12T10:56:00Z",
      "2025-02-12T10:56:45Z",
      "-000001-12-31T23:30:00.25Z",
      null,
      null,
      null,
      null,
      null,
      null,
    ]);
  });

  test("a day past the month's end or 24:00 is stored as the instant it means, with its digits; 24:00 with a fraction is refused", () => {
    expect([
      normalizeTs("2025-02-30T10:00:00.000Z"),
      normalizeTs("2025-02-30T10:00:00.000000001Z"),
      normalizeTs("2025-02-28T24:00:00.000Z"),
      normalizeTs("2025-02-28T24:00:00Z"),
      normalizeTs("2025-02-28T24:00:00.000000000Z"),
      normalizeTs("2025-02-28T24:00:00.000000001Z"),
      normalizeTs("2025-02-28T26:00:00+02:00"),
    ]).toEqual([
      "2025-03-02T10:00:00.000Z",
      "2025-03-02T10:00:00.000000001Z",
      "2025-03-01T00:00:00.000Z",
      "2025-03-01T00:00:00Z",
      "2025-03-01T00:00:00.000000000Z",
      null,
      null,
    ]);
  });

  test("a long line is cut at a character boundary with a visible marker", () => {
    expect(truncateLine("short", 10)).toEqual({ line: "short", truncated: false });
    const t = truncateLine("é".repeat(10), 5); // 20 bytes; 5 would split the third "é"
    expect(t).toEqual({ line: "éé…[truncated 16 bytes]", truncated: true });
  });

  test("the step filter is exact: build does not match build-notify, nor a line that mentions the step", () => {
    const match = makeMatcher({ step: "build" })!;
    const line = (step: string, text: string) =>
      encodeLine("2025-02-12T10:56:45.123Z", "stdout", JSON.stringify(step), text).trimEnd();
    expect([
      match(line("build", "x")),
      match(line("build-notify", "x")),
      match(line("test", '"step":"build"')),
      match("plain text, not JSON"),
    ]).toEqual([true, false, false, false]);
  });

  test("the stream filter keeps only that stream", () => {
    const match = makeMatcher({ stream: "stderr" })!;
    const line = (stream: "stdout" | "stderr") =>
      encodeLine("2025-02-12T10:56:45.123Z", stream, '"s"', "x").trimEnd();
    expect([match(line("stderr")), match(line("stdout"))]).toEqual([true, false]);
    expect(makeMatcher({})).toBeNull();
  });
});

describe("masking in the encoding", () => {
  const mask = (t: string) => t.replaceAll("SECRET-VALUE", "***");

  test("a batch line is masked before it is cut, so the cut leaves no start of a value", () => {
    const line = `${"x".repeat(95)}SECRET-VALUE and more`;
    const { text, truncated } = encodeBatch([{ ts: "t", stream: "stdout", line }], "s", "now", 100, mask);
    expect([JSON.parse(text).line, truncated]).toEqual([`${"x".repeat(95)}*** a…[truncated 7 bytes]`, 1]);
  });

  test("a server event is masked whole, then split into lines", () => {
    const { text, count } = encodeEvent("a SECRET-VALUE\nb SECRET-VALUE", "t", 1000, mask);
    expect([
      text
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l).line),
      count,
    ]).toEqual([["a ***", "b ***"], 2]);
  });

  test("maskStored masks the text of stored lines and keeps unparsable ones and unmatched ones byte for byte", () => {
    const a = encodeLine("t", "stdout", '"s"', "has SECRET-VALUE");
    const b = encodeLine("t", "stderr", '"s"', "clean \\u00e9");
    const stored = `${a}not json SECRET-VALUE\n${b}`;
    expect(maskStored(stored, mask)).toBe(
      `${encodeLine("t", "stdout", '"s"', "has ***")}not json SECRET-VALUE\n${b}`,
    );
    expect(maskStored(b, mask)).toBe(b);
  });
});
