import { describe, expect, test } from "bun:test";
import { encodeLine, makeMatcher, normalizeTs, truncateLine } from "../../src/logs/line.ts";

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

  test("timestamps are normalised to UTC with milliseconds, and non-ISO text is refused", () => {
    expect([
      normalizeTs("2025-02-12T10:56:45.123Z"),
      normalizeTs("2025-02-12T10:56:45Z"),
      normalizeTs("2025-02-12T12:56:45.5+02:00"),
      normalizeTs("2025-02-12T10:56:45.123456789Z"),
      normalizeTs("yesterday"),
      normalizeTs("2025-13-12T10:56:45.123Z"),
      normalizeTs("1739357805"),
      normalizeTs("2025-02-30T10:00:00.000Z"),
      normalizeTs("2025-02-28T24:00:00.000Z"),
    ]).toEqual([
      "2025-02-12T10:56:45.123Z",
      "2025-02-12T10:56:45.000Z",
      "2025-02-12T10:56:45.500Z",
      "2025-02-12T10:56:45.123Z",
      null,
      null,
      null,
      "2025-03-02T10:00:00.000Z",
      "2025-03-01T00:00:00.000Z",
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
