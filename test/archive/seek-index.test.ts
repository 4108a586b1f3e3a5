// The seek index: lookups checked against the log itself at every line, and an index never trusted.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readSpan } from "../../src/archive/ranged.ts";
import {
  type ArchiveIndex,
  buildIndex,
  IndexError,
  lineSpan,
  lineStart,
  linesSpan,
  parseIndex,
  serializeIndex,
  stepSpans,
  tailSpan,
} from "../../src/archive/seek-index.ts";
import { archiveOf, jsonl } from "../support/member.ts";
import { tempDir } from "../support/server.ts";

/** A log whose lines vary from short to several blocks long, in runs of steps. */
function sampleLog(): { text: string; steps: string[] } {
  const steps: string[] = [];
  let text = "";
  for (let i = 0; i < 400; i++) {
    const step = i < 120 ? "checkout" : i < 300 ? "build" : i % 50 === 0 ? "huge" : "test";
    const len = step === "huge" ? 2600 : (i * 37) % 180;
    text += jsonl(step, `${i} ${"z".repeat(len)}`, i);
    steps.push(step);
  }
  return { text, steps };
}

async function archived(text: string, blockBytes: number) {
  using dir = tempDir();
  const path = join(dir.path, "a.jsonl");
  writeFileSync(path, text);
  return await archiveOf(path, Buffer.byteLength(text), { blockBytes, workers: 0 });
}

/** Where each line starts and ends (one past its newline) in the log. */
function lineBounds(text: string): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (let s = 0; s < text.length; ) {
    const nl = text.indexOf("\n", s);
    const end = nl === -1 ? text.length : nl + 1;
    out.push({ start: s, end });
    s = end;
  }
  return out;
}

const blockAt = (index: ArchiveIndex, u: number) =>
  index.blocks.findIndex((b) => u >= b.u && u < b.u + b.bytes);

async function readText(index: ArchiveIndex, gz: Uint8Array, span: ReturnType<typeof linesSpan>) {
  if (span === null) return "";
  const parts: Uint8Array[] = [];
  const getRange = async function* (s: number, e: number) {
    yield gz.subarray(s, e);
  };
  for await (const c of readSpan(index, span, getRange)) parts.push(c);
  return Buffer.concat(parts).toString();
}

describe("seek index lookups", () => {
  test("for every line and window, the span is exactly the blocks holding it and reading it starts at the line", async () => {
    const { text } = sampleLog();
    const { index, gz } = await archived(text, 1000);
    const bounds = lineBounds(text);
    expect(index.blocks.some((b) => b.midLine)).toBe(true); // lines do span block boundaries
    expect(index.lines).toBe(bounds.length);
    const wrong: string[] = [];
    for (let n = 0; n < bounds.length; n++) {
      for (const count of [1, 3]) {
        const last = Math.min(bounds.length - 1, n + count - 1);
        const span = linesSpan(index, n, count)!;
        const want = {
          first: blockAt(index, bounds[n]!.start),
          last: blockAt(index, bounds[last]!.end - 1),
          line: n,
        };
        const got = { first: span.first, last: span.last, line: span.line };
        if (JSON.stringify(got) !== JSON.stringify(want))
          wrong.push(`line ${n}×${count}: ${JSON.stringify(got)} ≠ ${JSON.stringify(want)}`);
        const read = await readText(index, gz, span);
        const lines = text.slice(bounds[n]!.start, bounds[last]!.end);
        if (!read.startsWith(lines)) wrong.push(`line ${n}×${count}: read does not start with the lines`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test("a line that ends exactly at a block's end is found in that block, the next line in the next", async () => {
    const { text } = sampleLog();
    const { index } = await archived(text, 1000);
    const b = index.blocks.findIndex((x, i) => i > 0 && !x.midLine && !index.blocks[i - 1]!.midLine);
    const blk = index.blocks[b]!;
    expect({ before: lineStart(index, blk.line - 1)!.block, at: lineStart(index, blk.line) }).toEqual({
      before: b - 1,
      at: { block: b, skip: 0 },
    });
  });

  test("the last k lines, for every k up to past the whole log", async () => {
    const { text } = sampleLog();
    const { index, gz } = await archived(text, 1000);
    const bounds = lineBounds(text);
    for (const k of [1, 2, 5, 100, bounds.length, bounds.length + 5]) {
      const from = Math.max(0, bounds.length - k);
      const span = tailSpan(index, k)!;
      expect({ k, first: span.first, last: span.last, read: await readText(index, gz, span) }).toEqual({
        k,
        first: blockAt(index, bounds[from]!.start),
        last: index.blocks.length - 1,
        read: text.slice(bounds[from]!.start),
      });
    }
    expect([tailSpan(index, 0), linesSpan(index, bounds.length), linesSpan(index, 3, 0)]).toEqual([
      null,
      null,
      null,
    ]);
  });

  test("line N's byte range is one block for a short line, several for a line longer than a block", async () => {
    const { text, steps } = sampleLog();
    const { index } = await archived(text, 1000);
    const huge = steps.indexOf("huge");
    const short = lineSpan(index, 5)!;
    const long = lineSpan(index, huge)!;
    expect({ short: short.last - short.first, long: long.last - long.first >= 2 }).toEqual({
      short: 0,
      long: true,
    });
    expect({ start: long.start, end: long.end }).toEqual({
      start: index.blocks[long.first]!.start,
      end: index.blocks[long.last]!.end,
    });
  });

  test("step runs hold exactly the blocks with lines of the step, from the block of the first line asked for", async () => {
    const { text, steps } = sampleLog();
    const { index } = await archived(text, 1000);
    const bounds = lineBounds(text);
    for (const [step, from] of [
      ["checkout", 0],
      ["build", 0],
      ["build", 200],
      ["huge", 0],
      ["test", 310],
      ["nope", 0],
    ] as const) {
      const want = new Set<number>();
      for (let n = from; n < bounds.length; n++) {
        if (steps[n] !== step) continue;
        for (let b = blockAt(index, bounds[n]!.start); b <= blockAt(index, bounds[n]!.end - 1); b++)
          want.add(b);
      }
      const got = stepSpans(index, step, from).flatMap((s) =>
        Array.from({ length: s.last - s.first + 1 }, (_, i) => s.first + i),
      );
      // The run that starts at line `from`'s block includes it, whether or not that line is the step's.
      const first = blockAt(index, bounds[from]!.start);
      const extra = got.filter((b) => !want.has(b) && b !== first);
      expect({ step, from, missing: [...want].filter((b) => !got.includes(b)), extra }).toEqual({
        step,
        from,
        missing: [],
        extra: [],
      });
    }
  });

  test("with blocks cut inside lines (another writer), a line that starts after a block's last newline is read from that block", () => {
    // "ab\ncd" | "ef\ngh\n": line 1 ("cdef") starts in block 0 and ends in block 1.
    const index = buildIndex(
      [
        { bytes: 5, gzBytes: 7, newlines: 1, crc32: 0, endsLine: false, steps: null },
        { bytes: 6, gzBytes: 8, newlines: 2, crc32: 0, endsLine: true, steps: null },
      ],
      { crc32: 0, blockBytes: 6, level: 6 },
    );
    const span = linesSpan(index, 1, 1)!;
    expect({
      starts: [0, 1, 2, 3].map((n) => lineStart(index, n)),
      span: [span.first, span.last, span.skip, span.line],
    }).toEqual({
      starts: [{ block: 0, skip: 0 }, { block: 0, skip: 1 }, { block: 1, skip: 1 }, null],
      span: [0, 1, 1, 1],
    });
  });

  test("an empty log has no spans", async () => {
    const { index } = await archived("", 1000);
    expect([lineStart(index, 0), linesSpan(index, 0), tailSpan(index, 10), stepSpans(index, "a")]).toEqual([
      null,
      null,
      null,
      [],
    ]);
  });

  test("a log of one huge line without a newline: line 0 is every block, line 1 does not exist", async () => {
    const text = `{"step":"x","line":"${"y".repeat(5000)}"}`;
    const { index, gz } = await archived(text, 1000);
    const span = linesSpan(index, 0)!;
    expect({
      lines: index.lines,
      span: [span.first, span.last, span.skip],
      read: (await readText(index, gz, span)) === text,
      one: linesSpan(index, 1),
    }).toEqual({ lines: 1, span: [0, index.blocks.length - 1, 0], read: true, one: null });
  });
});

interface IndexJson {
  format: string;
  version: number;
  log_bytes: number;
  object_bytes: number;
  lines: number;
  extra?: number;
  checksum?: string;
  blocks: {
    bytes: number[];
    newlines: number[];
    crc32: number[];
    steps: (number[] | null)[];
    mid_line: number[];
  };
}

/** Rewrites an index's JSON and seals it with a fresh checksum: a well-formed lie. */
function reseal(text: string, edit: (o: IndexJson) => void): string {
  const o = JSON.parse(text) as IndexJson;
  delete o.checksum;
  edit(o);
  const body = JSON.stringify(o);
  const head = `${body.slice(0, -1)},"checksum":"crc32:`;
  return `${head}${Bun.hash.crc32(head).toString(16).padStart(8, "0")}"}\n`;
}

describe("seek index serialisation", () => {
  test("an index survives serialisation unchanged, and its text is compact JSON that ends in its checksum", async () => {
    const { text } = sampleLog();
    const { index } = await archived(text, 1000);
    const s = serializeIndex(index);
    expect(parseIndex(s, { logBytes: index.logBytes, objectBytes: index.objectBytes })).toEqual(index);
    expect(s).toMatch(
      /^\{"format":"stroem-logs archive index","version":1,.*,"checksum":"crc32:[0-9a-f]{8}"\}\n$/,
    );
    expect(s.length / index.blocks.length).toBeLessThan(60);
  });

  test("an empty log's index survives serialisation", async () => {
    const { index } = await archived("", 1000);
    expect(parseIndex(serializeIndex(index))).toEqual(index);
  });

  test("a changed byte anywhere or a cut anywhere is detected", async () => {
    const { text } = sampleLog();
    const { index } = await archived(text, 1000);
    const s = serializeIndex(index);
    const failures = new Set<string>();
    for (let i = 0; i < s.length - 1; i += 7) {
      const flipped = s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ 1) + s.slice(i + 1);
      try {
        parseIndex(flipped);
        failures.add(`flip at ${i} accepted`);
      } catch (e) {
        if (!(e instanceof IndexError)) failures.add(`flip at ${i}: ${e}`);
      }
      try {
        parseIndex(s.slice(0, i));
        failures.add(`cut at ${i} accepted`);
      } catch (e) {
        if (!(e instanceof IndexError) || !/truncated/.test(e.message)) failures.add(`cut at ${i}: ${e}`);
      }
    }
    expect([...failures]).toEqual([]);
    expect(() => parseIndex(s.replace(/"lines":(\d)/, '"lines":9'))).toThrow(
      /archive index is corrupt \(checksum crc32:/,
    );
  });

  test("a well-sealed index that does not add up, or is of another version, or of another upload, is refused", async () => {
    const { text } = sampleLog();
    const { index } = await archived(text, 1000);
    const s = serializeIndex(index);
    const cases: [string, (o: IndexJson) => void, RegExp][] = [
      ["log_bytes", (o) => (o.log_bytes += 1), /inconsistent: log_bytes \d+, its blocks add up to \d+/],
      ["object_bytes", (o) => (o.object_bytes -= 1), /inconsistent: object_bytes/],
      ["lines", (o) => (o.lines += 2), /inconsistent: lines/],
      ["a short column", (o) => o.blocks.crc32.pop(), /blocks\.crc32 has \d+ entries, blocks\.bytes \d+/],
      ["a step out of range", (o) => (o.blocks.steps[0] = [99]), /block 0 names step 99 of 4/],
      [
        "a negative size",
        (o) => (o.blocks.bytes[1] = -5),
        /malformed: blocks\.bytes: expected an array of integers ≥ 1$/,
      ],
      [
        "a fraction",
        (o) => (o.blocks.newlines[0] = 0.5),
        /malformed: blocks\.newlines: expected an array of integers ≥ 0$/,
      ],
      [
        "a step set of strings",
        (o) => (o.blocks.steps[0] = ["a"] as never),
        /malformed: blocks\.steps: expected an array of null/,
      ],
      [
        "mid_line past the end",
        (o) => o.blocks.mid_line.push(o.blocks.bytes.length),
        /mid_line block \d+ of \d+/,
      ],
      ["version 2", (o) => (o.version = 2), /archive index version 2 is not supported \(this reader: 1\)/],
      ["another format", (o) => (o.format = "x"), /malformed: format: /],
      ["an unknown field", (o) => (o.extra = 1), /malformed: extra: /],
    ];
    const got = cases.map(([name, edit, re]) => {
      try {
        parseIndex(reseal(s, edit));
        return `${name}: accepted`;
      } catch (e) {
        return e instanceof IndexError && re.test(e.message) ? `${name}: refused` : `${name}: ${e}`;
      }
    });
    expect(got).toEqual(cases.map(([name]) => `${name}: refused`));
    expect(() => parseIndex(s, { logBytes: index.logBytes + 10 })).toThrow(
      `archive index describes ${index.logBytes} bytes of log, the archive holds ${index.logBytes + 10}`,
    );
    expect(() => parseIndex(s, { objectBytes: 5 })).toThrow(
      /describes a \d+-byte object, the archive is 5 bytes/,
    );
    expect(() => parseIndex("not json at all")).toThrow(/truncated or not an index/);
  });
});
