import { describe, expect, test } from "bun:test";
import { createLineSplitter, splitUtf8 } from "../../src/shipper/lines.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

/** Feeds `chunks` and the end of stream; returns every line in order. */
function split(chunks: (string | Uint8Array)[], max = 1024): string[] {
  const s = createLineSplitter(max);
  const out: string[] = [];
  for (const c of chunks) out.push(...s.push(typeof c === "string" ? bytes(c) : c));
  out.push(...s.end());
  return out;
}

describe("line splitting", () => {
  test("newline, CRLF and a bare CR each end a line; a last line without newline is kept", () => {
    expect(split(["a\nb\r\nc\rd"])).toEqual(["a", "b", "c", "d"]);
  });

  test("a progress bar drawn with carriage returns becomes one line per update", () => {
    expect(split(["10%\r50%\r100%\n", "done\n"])).toEqual(["10%", "50%", "100%", "done"]);
  });

  test("a CRLF cut between two reads is one line end, not an empty line", () => {
    expect(split(["a\r", "\nb\n"])).toEqual(["a", "b"]);
  });

  test("empty lines are kept", () => {
    expect(split(["\n\nx\n\n"])).toEqual(["", "", "x", ""]);
  });

  test("a line arriving in many reads is one line", () => {
    expect(split(["he", "ll", "o\nwor", "ld\n"])).toEqual(["hello", "world"]);
  });

  test("a character cut between two reads stays whole", () => {
    const all = bytes("ø€😀\n");
    const chunks = Array.from(all, (b) => new Uint8Array([b]));
    expect(split(chunks)).toEqual(["ø€😀"]);
  });

  test("invalid UTF-8 becomes U+FFFD and never stops the capture", () => {
    expect(split([new Uint8Array([0x61, 0xff, 0xfe, 0x0a, 0xc3, 0x0a, 0x62])])).toEqual([
      "a\ufffd\ufffd",
      "\ufffd",
      "b",
    ]);
  });

  test("a line longer than the limit is cut into pieces of at most the limit, never inside a character", () => {
    const line = "é".repeat(10); // 20 bytes
    const lines = split([`${line}\n`], 7);
    expect(lines).toEqual(["ééé", "ééé", "ééé", "é"]);
    expect(lines.join("")).toBe(line);
  });

  test("an unfinished line past the limit is cut as it grows, without waiting for its end", () => {
    const s = createLineSplitter(8);
    expect(s.push(bytes("0123456789abc"))).toEqual(["01234567"]);
    expect(s.hasPartial).toBe(true);
    expect(s.push(bytes("def"))).toEqual([]); // exactly at the limit: still one line
    expect(s.push(bytes("g"))).toEqual(["89abcdef"]);
    expect(s.end()).toEqual(["g"]);
  });

  test("an unfinished line can be flushed on its own; the newline that finally comes adds no empty line", () => {
    const s = createLineSplitter(1024);
    expect(s.push(bytes("Password: "))).toEqual([]);
    expect(s.flushPartial()).toEqual(["Password: "]);
    expect(s.push(bytes("\nnext\n"))).toEqual(["next"]);
    expect(s.flushPartial()).toEqual([]);
  });

  test("text after a flushed partial continues as a new line", () => {
    const s = createLineSplitter(1024);
    s.push(bytes("waiting"));
    expect(s.flushPartial()).toEqual(["waiting"]);
    expect([...s.push(bytes(" done\n")), ...s.end()]).toEqual([" done"]);
  });

  test("splitUtf8 keeps every byte and respects the limit", () => {
    const text = "a😀b".repeat(100);
    const pieces = splitUtf8(text, 10);
    expect(pieces.join("")).toBe(text);
    expect(pieces.every((p) => Buffer.byteLength(p) <= 10)).toBe(true);
  });
});
