import { describe, expect, test } from "bun:test";
import { createMasker } from "../../src/core/mask.ts";
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

describe("line splitting with secrets to mask", () => {
  const secret = "hunter2-is-my-password";
  const masker = createMasker([secret]);
  const leaks = (lines: string[]) =>
    lines.filter((l) => l.includes(secret.slice(0, 4)) || l.includes(secret.slice(-4)));

  test("complete lines are masked; the echo of the rest is unchanged", () => {
    const s = createLineSplitter(1024, masker);
    expect([...s.push(bytes(`login ${secret} ok\nplain\n`)), ...s.end()]).toEqual(["login *** ok", "plain"]);
  });

  test("a long line cut by the limit never splits a secret, wherever the cut falls", () => {
    for (let at = 0; at < 40; at++) {
      const text = `${"x".repeat(at)}${secret}${"y".repeat(40)}`;
      const s = createLineSplitter(32, masker);
      const lines = [...s.push(bytes(`${text}\n`)), ...s.end()];
      expect({ at, leaks: leaks(lines), joined: lines.join("") }).toEqual({
        at,
        leaks: [],
        joined: `${"x".repeat(at)}***${"y".repeat(40)}`,
      });
      expect(lines.every((l) => Buffer.byteLength(l) <= 32)).toBe(true);
    }
  });

  test("an unfinished line cut as it grows keeps back a secret's start until the rest arrives", () => {
    for (let k = 1; k < secret.length; k++) {
      const s = createLineSplitter(32, masker);
      const lines = [
        ...s.push(bytes(`${"x".repeat(30)}${secret.slice(0, k)}`)),
        ...s.push(bytes(`${secret.slice(k)}${"y".repeat(30)}`)),
        ...s.end(),
      ];
      expect({ k, leaks: leaks(lines), joined: lines.join("") }).toEqual({
        k,
        leaks: [],
        joined: `${"x".repeat(30)}***${"y".repeat(30)}`,
      });
    }
  });

  test("a flush of an unfinished line keeps back a secret's start once, then lets it go", () => {
    const s = createLineSplitter(1024, masker);
    s.push(bytes(`Token: ${secret.slice(0, 6)}`));
    expect(s.flushPartial()).toEqual(["Token: "]);
    expect(s.hasPartial).toBe(true);
    // The rest arrives: the secret is whole again and masked.
    expect(s.push(bytes(`${secret.slice(6)}\n`))).toEqual(["***"]);
    // Nothing more arrives after a kept-back start: the second flush sends it as it is.
    s.push(bytes(`Password: ${secret.slice(0, 3)}`));
    expect([s.flushPartial(), s.flushPartial(), s.hasPartial]).toEqual([
      ["Password: "],
      [secret.slice(0, 3)],
      false,
    ]);
  });

  test("an unfinished line that cannot start a secret is flushed whole at once, as without masking", () => {
    const s = createLineSplitter(1024, masker);
    s.push(bytes("Password: "));
    expect([s.flushPartial(), s.hasPartial]).toEqual([["Password: "], false]);
  });
});
