// The terminal form of a stored line: the time of day to the millisecond whatever precision the line carries.
import { describe, expect, test } from "bun:test";
import { prettyLine } from "../../src/cli/format.ts";

const line = (ts: unknown) => JSON.stringify({ ts, stream: "stdout", step: "build", line: "x" });

describe("pretty lines", () => {
  test("a timestamp of any precision or offset form prints as HH:MM:SS.mmm; anything else prints as it is", () => {
    expect(
      [
        "2025-02-12T10:56:45.123Z",
        "2025-02-12T10:56:45Z",
        "2025-02-12T10:56:45.5Z",
        "2025-02-12T10:56:45.722000001Z",
        "2025-02-12T10:56:46.000001+00:00",
        "not a time",
        7,
      ].map((ts) => prettyLine(line(ts), false)),
    ).toEqual([
      "10:56:45.123  build  x",
      "10:56:45.000  build  x",
      "10:56:45.500  build  x",
      "10:56:45.722  build  x",
      "10:56:46.000  build  x",
      "not a time  build  x",
      "7  build  x",
    ]);
  });
});
