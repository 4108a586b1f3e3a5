import { describe, expect, test } from "bun:test";
import { PLAIN, paletteColor, parseAnsi, plainText, type Style } from "../../src/web/app/ansi.ts";

const st = (over: Partial<Style>): Style => ({ ...PLAIN, ...over });
const E = "\x1b";

describe("ANSI SGR parsing", () => {
  test("a line without escapes is one plain segment (and an empty line none)", () => {
    expect(parseAnsi("hello world")).toEqual([{ text: "hello world", style: PLAIN }]);
    expect(parseAnsi("")).toEqual([]);
  });

  test("the 16 colours, bright colours, backgrounds and reset", () => {
    expect(parseAnsi(`${E}[31mred${E}[0m plain ${E}[92;44mgreen on blue${E}[39;49m x`)).toEqual([
      { text: "red", style: st({ fg: 1 }) },
      { text: " plain ", style: PLAIN },
      { text: "green on blue", style: st({ fg: 10, bg: 4 }) },
      { text: " x", style: PLAIN },
    ]);
  });

  test("256 colours and truecolor, in the semicolon and the colon forms", () => {
    expect(parseAnsi(`${E}[38;5;208ma${E}[48;5;17mb${E}[m`)).toEqual([
      { text: "a", style: st({ fg: 208 }) },
      { text: "b", style: st({ fg: 208, bg: 17 }) },
    ]);
    expect(parseAnsi(`${E}[38;2;255;128;0mo${E}[38:2::1:2:3mc${E}[48:2:10:20:30md`)).toEqual([
      { text: "o", style: st({ fg: "#ff8000" }) },
      { text: "c", style: st({ fg: "#010203" }) },
      { text: "d", style: st({ fg: "#010203", bg: "#0a141e" }) },
    ]);
    expect(paletteColor(16)).toBe("#000000");
    expect(paletteColor(196)).toBe("#ff0000");
    expect(paletteColor(231)).toBe("#ffffff");
    expect(paletteColor(244)).toBe("#808080");
  });

  test("bold, dim, italic, underline, inverse and strike switch on and off independently", () => {
    expect(parseAnsi(`${E}[1;3;4mall${E}[22mx${E}[23;24my${E}[7;9mz${E}[27;29mw`)).toEqual([
      { text: "all", style: st({ bold: true, italic: true, underline: true }) },
      { text: "x", style: st({ italic: true, underline: true }) },
      { text: "y", style: PLAIN },
      { text: "z", style: st({ inverse: true, strike: true }) },
      { text: "w", style: PLAIN },
    ]);
    expect(parseAnsi(`${E}[2mdim`)).toEqual([{ text: "dim", style: st({ dim: true }) }]);
  });

  test("a reset in the middle of a sequence clears what came before it", () => {
    expect(parseAnsi(`${E}[1;31;0;32mg`)).toEqual([{ text: "g", style: st({ fg: 2 }) }]);
  });

  test("a carriage return overwrites the line as a terminal shows it (progress bars)", () => {
    expect(plainText("10%\r20%\r100% done")).toBe("100% done");
    expect(plainText("abcdef\rXY")).toBe("XYcdef");
    expect(plainText("downloading 50%\r\x1b[Kdownloaded")).toBe("downloaded");
    expect(plainText("ab\bc")).toBe("ac");
    expect(parseAnsi(`${E}[32m[====    ]${E}[0m\r${E}[32m[========]${E}[0m`)).toEqual([
      { text: "[========]", style: st({ fg: 2 }) },
    ]);
  });

  test("other sequences are dropped: cursor keys, titles, hyperlinks keep their text", () => {
    expect(plainText(`${E}[?25lhidden cursor${E}[?25h`)).toBe("hidden cursor");
    expect(plainText(`${E}]0;title\x07after`)).toBe("after");
    expect(plainText(`${E}]8;;https://example.com${E}\\link${E}]8;;${E}\\ text`)).toBe("link text");
    expect(plainText(`${E}[2Jcleared`)).toBe("cleared");
    expect(plainText(`cut${E}[`)).toBe("cut");
  });

  test("runs with the same style merge into one segment, whatever sequences came between", () => {
    const segs = parseAnsi(`${E}[31ma${E}[1m${E}[22mb`);
    expect(segs).toEqual([{ text: "ab", style: st({ fg: 1 }) }]);
  });
});
