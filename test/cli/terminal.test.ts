// When the CLI colours: --color wins, auto needs a terminal, an empty NO_COLOR and a TERM other than dumb.
import { describe, expect, test } from "bun:test";
import { colorOn } from "../../src/cli/terminal.ts";

describe("colour", () => {
  test("auto colours only a terminal without NO_COLOR or TERM=dumb; always and never are obeyed", () => {
    expect([
      colorOn("auto", true, {}),
      colorOn("auto", false, {}),
      colorOn("auto", true, { NO_COLOR: "1" }),
      colorOn("auto", true, { NO_COLOR: "" }),
      colorOn("auto", true, { TERM: "dumb" }),
      colorOn("always", false, { NO_COLOR: "1" }),
      colorOn("never", true, {}),
    ]).toEqual([true, false, false, true, false, true, false]);
  });
});
