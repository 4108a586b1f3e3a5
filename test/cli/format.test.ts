// The terminal form of a stored line: an ISO instant with its zone to the millisecond, job output made safe.
import { describe, expect, test } from "bun:test";
import { formatTs, prettyLine } from "../../src/cli/format.ts";

const line = (ts: unknown, text = "x", stream = "stdout") =>
  JSON.stringify({ ts, stream, step: "build", line: text });
const plain = { color: false, local: false };

describe("pretty lines", () => {
  test("a timestamp of any precision or offset form prints as a UTC instant to the millisecond; anything else as it is", () => {
    expect(
      [
        "2025-02-12T10:56:45.123Z",
        "2025-02-12T10:56:45Z",
        "2025-02-12T10:56:45.5Z",
        "2025-02-12T10:56:45.722999999Z",
        "2025-02-12T12:56:46.000001+02:00",
        "not a time",
        7,
      ].map((ts) => prettyLine(line(ts), plain)),
    ).toEqual([
      "2025-02-12T10:56:45.123Z  build  x",
      "2025-02-12T10:56:45.000Z  build  x",
      "2025-02-12T10:56:45.500Z  build  x",
      "2025-02-12T10:56:45.722Z  build  x", // cut, not rounded: never a later time than the line had
      "2025-02-12T10:56:46.000Z  build  x",
      "not a time  build  x",
      "7  build  x",
    ]);
  });

  test("local time carries the zone's offset of that instant (TZ), summer and winter", () => {
    const tz = process.env.TZ;
    process.env.TZ = "Europe/Copenhagen";
    try {
      expect([
        formatTs("2025-02-12T10:56:45.123456Z", true),
        formatTs("2025-07-01T23:30:00Z", true),
        formatTs("nope", true),
      ]).toEqual(["2025-02-12T11:56:45.123+01:00", "2025-07-02T01:30:00.000+02:00", null]);
      process.env.TZ = "America/St_Johns";
      expect(formatTs("2025-02-12T10:56:45.123Z", true)).toBe("2025-02-12T07:26:45.123-03:30");
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  test("with colour a stderr line is red and the job's own colours stay, reset at the end of the line", () => {
    expect([
      prettyLine(line("2025-02-12T10:56:45.123Z", "\x1b[32mok\x1b[0m done", "stdout"), {
        color: true,
        local: false,
      }),
      prettyLine(line("2025-02-12T10:56:45.123Z", "boom", "stderr"), { color: true, local: false }),
      prettyLine(line("2025-02-12T10:56:45.123Z", "\x1b[32mok\x1b[0m done", "stdout"), plain),
    ]).toEqual([
      "2025-02-12T10:56:45.123Z  build  \x1b[32mok\x1b[0m done\x1b[0m",
      "\x1b[31m2025-02-12T10:56:45.123Z  build  boom\x1b[0m",
      "2025-02-12T10:56:45.123Z  build  ok done",
    ]);
  });

  test("control sequences in the line, the step or a legacy text line are shown escaped, never sent to the terminal", () => {
    const hostile = "\x1b]0;pwned\x07\x1b[2J\x1b[1;1Hfake\rhidden\nforged\x9b6n";
    const escaped = "\\e]0;pwned\\x07\\e[2J\\e[1;1Hfake\\rhidden\\nforged\\x9b6n";
    expect([
      prettyLine(line("2025-02-12T10:56:45.123Z", hostile), plain),
      prettyLine(line("2025-02-12T10:56:45.123Z", hostile), { color: true, local: false }),
      prettyLine(JSON.stringify({ ts: "\x1b[2J", stream: "stdout", step: "b\x85", line: "a\tb" }), plain),
      prettyLine(`legacy ${hostile}`, plain),
    ]).toEqual([
      `2025-02-12T10:56:45.123Z  build  ${escaped}`,
      `2025-02-12T10:56:45.123Z  build  ${escaped}`,
      "\\e[2J  b\\x85  a\tb",
      `legacy ${escaped}`,
    ]);
  });
});
