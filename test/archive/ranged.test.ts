// Ranged reads of single-member archives: only the blocks needed are fetched; anything else falls back whole.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipFile } from "../../src/archive/gzip.ts";
import {
  type ArchiveSource,
  fileRange,
  type GetRange,
  openArchive,
  readLines,
  type Segment,
} from "../../src/archive/ranged.ts";
import { buildIndex, GZIP_HEADER_BYTES, serializeIndex } from "../../src/archive/seek-index.ts";
import { makeMatcher } from "../../src/core/line.ts";
import { archiveOf, jsonl } from "../support/member.ts";
import { startS3 } from "../support/s3.ts";
import { tempDir } from "../support/server.ts";

const BLOCK = 64 * 1024;

/** ~2 MB of JSONL in runs of steps (checkout, build, test), ~32 blocks of 64 KiB. */
function stepLog(lines = 20_000): { text: string; lines: string[] } {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const step = i < 4000 ? "checkout" : i < 16_000 ? "build" : "test";
    out.push(jsonl(step, `[${i}] ${(i * 7919).toString(36).repeat(1 + (i % 5))}`, i));
  }
  return { text: out.join(""), lines: out.map((l) => l.slice(0, -1)) };
}

interface Counted {
  getRange: GetRange;
  requests: [number, number][];
}

/** A GetRange over bytes in memory that records each range asked for. */
function memRange(gz: Uint8Array): Counted {
  const requests: [number, number][] = [];
  return {
    requests,
    getRange: async function* (start, end) {
      requests.push([start, end]);
      for (let p = start; p < end; p += 16 * 1024) yield gz.slice(p, Math.min(end, p + 16 * 1024));
    },
  };
}

function source(
  gz: Uint8Array,
  index: string | null,
  range: Counted,
  extra: Partial<ArchiveSource> & { logBytes: number },
) {
  let wholeReads = 0;
  const src: ArchiveSource = {
    getRange: range.getRange,
    getObject: async () => {
      wholeReads++;
      return (async function* () {
        for (let p = 0; p < gz.length; p += 64 * 1024) yield gz.slice(p, p + 64 * 1024);
      })();
    },
    getIndex: async () => index,
    ...extra,
  };
  return { src, wholeReads: () => wholeReads };
}

async function texts(segments: AsyncIterable<Segment>, opts: Parameters<typeof readLines>[1] = {}) {
  const out: string[] = [];
  for await (const l of readLines(segments, opts)) out.push(l.text);
  return out;
}

async function setup(text: string, opts: { blockBytes?: number } = {}) {
  using dir = tempDir();
  const path = join(dir.path, "a.jsonl");
  writeFileSync(path, text);
  return await archiveOf(path, Buffer.byteLength(text), { blockBytes: opts.blockBytes ?? BLOCK, workers: 0 });
}

describe("ranged reads", () => {
  test("a tail and a window deep in the log are each one ranged fetch of at most two blocks", async () => {
    const log = stepLog();
    const { gz, index } = await setup(log.text);
    const range = memRange(gz);
    const { src, wholeReads } = source(gz, serializeIndex(index), range, { logBytes: index.logBytes });
    const reader = await openArchive(src);
    const tail = await texts(reader.tail(100));
    const tailAsked = range.requests.splice(0);
    const deep = 17_345;
    const window = await texts(reader.from(deep, 100), { from: deep, count: 100 });
    const windowAsked = range.requests.splice(0);
    const biggest2 = index.blocks
      .map((b) => b.end - b.start)
      .sort((a, b) => b - a)
      .slice(0, 2)
      .reduce((a, b) => a + b);
    const asked = (r: [number, number][]) => ({
      fetches: r.length,
      withinTwoBlocks: r[0]![1] - r[0]![0] <= biggest2,
    });
    expect({
      fallback: reader.fallback,
      tail: tail.length === 100 && tail.join("\n") === log.lines.slice(-100).join("\n"),
      window: window.join("\n") === log.lines.slice(deep, deep + 100).join("\n"),
      tailAsked: asked(tailAsked),
      windowAsked: asked(windowAsked),
      wholeReads: wholeReads(),
    }).toEqual({
      fallback: null,
      tail: true,
      window: true,
      tailAsked: { fetches: 1, withinTwoBlocks: true },
      windowAsked: { fetches: 1, withinTwoBlocks: true },
      wholeReads: 0,
    });
  });

  test("an archive written before the header carried its comment (a 10-byte header) seeks with its own index", async () => {
    const log = stepLog();
    const { gz, index } = await setup(log.text);
    // The same blocks after the older header, and the index that version wrote for it (12 bytes less).
    const old = Buffer.concat([
      Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]),
      gz.subarray(GZIP_HEADER_BYTES),
    ]);
    const oldIndex = buildIndex(
      index.blocks.map((b, i) => ({
        bytes: b.bytes,
        gzBytes: b.end - b.start,
        newlines: b.newlines,
        crc32: b.crc32,
        endsLine: i + 1 < index.blocks.length ? !index.blocks[i + 1]!.midLine : true,
        steps: b.steps === null ? null : b.steps.map((id) => index.steps[id]!),
      })),
      { crc32: index.crc32, blockBytes: index.blockBytes, level: index.level },
      10,
    );
    const range = memRange(old);
    const { src, wholeReads } = source(old, serializeIndex(oldIndex), range, {
      logBytes: index.logBytes,
      objectBytes: old.length,
    });
    const reader = await openArchive(src);
    const deep = 12_345;
    const window = await texts(reader.from(deep, 100), { from: deep, count: 100 });
    expect({
      fallback: reader.fallback,
      window: window.join("\n") === log.lines.slice(deep, deep + 100).join("\n"),
      start: range.requests[0]![0] === oldIndex.blocks.find((b) => b.line + b.newlines > deep)!.start,
      wholeReads: wholeReads(),
    }).toEqual({ fallback: null, window: true, start: true, wholeReads: 0 });
  });

  test("lines from N to the end are one fetch from N's block to the last block, byte for byte", async () => {
    const log = stepLog();
    const { gz, index } = await setup(log.text);
    const range = memRange(gz);
    const reader = await openArchive(
      source(gz, serializeIndex(index), range, { logBytes: index.logBytes }).src,
    );
    const from = 9_999;
    const got = await texts(reader.from(from), { from });
    const first = index.blocks.findIndex((b) => b.line + b.newlines > from - 1);
    expect({ same: got.join("\n") === log.lines.slice(from).join("\n"), asked: range.requests }).toEqual({
      same: true,
      asked: [[index.blocks[first]!.start, index.blocks.at(-1)!.end]],
    });
  });

  test("a window yields exactly the bytes of its lines, nothing of the rest of the block", async () => {
    const log = stepLog();
    const { gz, index } = await setup(log.text);
    const reader = await openArchive(
      source(gz, serializeIndex(index), memRange(gz), { logBytes: index.logBytes }).src,
    );
    const bytes: Uint8Array[] = [];
    const segs: number[] = [];
    for await (const seg of reader.from(12_345, 3)) {
      segs.push(seg.line);
      for await (const c of seg.chunks) bytes.push(c);
    }
    expect({ segs, text: Buffer.concat(bytes).toString() }).toEqual({
      segs: [12_345],
      text: `${log.lines.slice(12_345, 12_348).join("\n")}\n`,
    });
  });

  test("an empty window fetches nothing, with or without an index", async () => {
    const log = stepLog(2000);
    const { gz, index } = await setup(log.text);
    const got = [];
    for (const idx of [serializeIndex(index), null]) {
      const range = memRange(gz);
      const s = source(gz, idx, range, { logBytes: index.logBytes });
      const reader = await openArchive(s.src);
      got.push({
        lines: await texts(reader.from(10, 0)),
        ranged: range.requests.length,
        whole: s.wholeReads(),
      });
    }
    expect(got).toEqual([
      { lines: [], ranged: 0, whole: 0 },
      { lines: [], ranged: 0, whole: 0 },
    ]);
  });

  test("a reader that stops early stops the fetch", async () => {
    const log = stepLog();
    const { gz, index } = await setup(log.text);
    let yielded = 0;
    const getRange: GetRange = async function* (start, end) {
      for (let p = start; p < end; p += 4096, yielded += 4096) yield gz.slice(p, Math.min(end, p + 4096));
    };
    const reader = await openArchive({
      ...source(gz, serializeIndex(index), memRange(gz), { logBytes: index.logBytes }).src,
      getRange,
    });
    const got = await texts(reader.from(0), { count: 10 });
    expect({ got: got.length, fetchedUnderTwoBlocks: yielded <= 2 * BLOCK }).toEqual({
      got: 10,
      fetchedUnderTwoBlocks: true,
    });
  });

  test("a step read fetches only the blocks that hold the step, and finds every line of it", async () => {
    const log = stepLog();
    const { gz, index } = await setup(log.text);
    const range = memRange(gz);
    const reader = await openArchive(
      source(gz, serializeIndex(index), range, { logBytes: index.logBytes }).src,
    );
    const match = makeMatcher({ step: "test" });
    const got = await texts(reader.step("test", 0), { match });
    const fetched = range.requests.reduce((a, [s, e]) => a + e - s, 0);
    const want = log.lines.filter((l) => l.includes('"step":"test"'));
    expect({
      same: got.join("\n") === want.join("\n"),
      n: got.length,
      share: fetched / gz.length < 0.25,
    }).toEqual({
      same: true,
      n: 4000,
      share: true,
    });
    expect(await texts(reader.step("nope", 0), { match: makeMatcher({ step: "nope" }) })).toEqual([]);
  });

  test("without an index, every read streams the whole object once and is still exact", async () => {
    const log = stepLog();
    const { gz, index } = await setup(log.text);
    const range = memRange(gz);
    const s = source(gz, null, range, { logBytes: index.logBytes });
    const reader = await openArchive(s.src);
    const tail = await texts(reader.tail(3));
    const window = await texts(reader.from(12_000, 5), { from: 12_000, count: 5 });
    expect({
      fallback: reader.fallback,
      tail,
      window,
      ranged: range.requests.length,
      wholeReads: s.wholeReads(),
    }).toEqual({
      fallback: "the archive has no index",
      tail: log.lines.slice(-3),
      window: log.lines.slice(12_000, 12_005),
      ranged: 0,
      // A tail without a line count counts the lines first.
      wholeReads: 3,
    });
  });

  test("a corrupted index is detected, never trusted: reads fall back to the whole object and stay exact", async () => {
    const log = stepLog();
    const { gz, index } = await setup(log.text);
    const good = serializeIndex(index);
    const at = good.indexOf('"gz_bytes":[') + 14;
    const bad = good.slice(0, at) + (good[at] === "1" ? "2" : "1") + good.slice(at + 1);
    const range = memRange(gz);
    const reader = await openArchive(source(gz, bad, range, { logBytes: index.logBytes, lines: 20_000 }).src);
    expect({
      fallback: reader.fallback,
      tail: await texts(reader.tail(2)),
      ranged: range.requests.length,
    }).toEqual({
      fallback: expect.stringMatching(
        /^archive index is corrupt \(checksum crc32:[0-9a-f]{8}, content crc32:[0-9a-f]{8}\)$/,
      ),
      tail: log.lines.slice(-2),
      ranged: 0,
    });
  });

  test("an index of another upload of the log, or one that cannot be fetched, is not used", async () => {
    const log = stepLog();
    const { gz, index } = await setup(log.text);
    const stale = await openArchive(
      source(gz, serializeIndex(index), memRange(gz), { logBytes: index.logBytes + 100 }).src,
    );
    const unreachable = await openArchive({
      ...source(gz, null, memRange(gz), { logBytes: index.logBytes }).src,
      getIndex: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:9")),
    });
    expect({
      stale: stale.fallback,
      unreachable: unreachable.fallback,
      read: await texts(unreachable.from(5, 1), { from: 5, count: 1 }),
    }).toEqual({
      stale: `archive index describes ${index.logBytes} bytes of log, the archive holds ${index.logBytes + 100}`,
      unreachable: "the archive's index could not be read (connect ECONNREFUSED 127.0.0.1:9)",
      read: log.lines.slice(5, 6),
    });
  });

  test("an old multi-member archive and a plain `gzip -6` archive (Strøm's) are read whole", async () => {
    using dir = tempDir();
    const log = stepLog(5000);
    const path = join(dir.path, "a.jsonl");
    writeFileSync(path, log.text);
    const parts: Uint8Array[] = [];
    for await (const p of gzipFile(path, log.text.length, 50_000)) parts.push(p);
    const multi = Buffer.concat(parts);
    const gzip = Bun.spawnSync(["gzip", "-6", "-c", path]).stdout;
    const got: Record<string, unknown> = {};
    for (const [name, gz] of [
      ["multi", multi],
      ["gzip", gzip],
    ] as const) {
      const reader = await openArchive(source(gz, null, memRange(gz), { logBytes: log.text.length }).src);
      got[name] = {
        tail: await texts(reader.tail(2)),
        window: await texts(reader.from(4000, 2), { from: 4000, count: 2 }),
        all: (await texts(reader.from(0))).length,
      };
    }
    const want = { tail: log.lines.slice(-2), window: log.lines.slice(4000, 4002), all: 5000 };
    expect({ parts: parts.length > 1, got }).toEqual({ parts: true, got: { multi: want, gzip: want } });
  });

  test("a block that does not match the index mid-read: the read goes on from the whole object, from the first byte not yet read", async () => {
    // An index that adds up to this archive's totals but was written for other bytes from line 15,000 on
    // (the object's size is not known here, so nothing catches it before the read): the blocks before
    // that are the same bytes and are served from the index, the rest from the whole object.
    const log = stepLog();
    const other = log.text.replace("[15000] ", "[15000]_");
    const wrong = await setup(other);
    const { gz } = await setup(log.text);
    const range = memRange(gz);
    const s = source(gz, serializeIndex(wrong.index), range, { logBytes: log.text.length });
    const reader = await openArchive(s.src);
    expect(reader.fallback).toBeNull();
    const got = await texts(reader.from(0));
    expect({
      same: got.join("\n") === log.lines.join("\n"),
      n: got.length,
      fallback: reader.fallback,
      wholeReads: s.wholeReads(),
      after: reader.index,
    }).toEqual({
      same: true,
      n: 20_000,
      fallback: expect.stringMatching(
        /^block \d+ at byte \d+ (inflates to \d+ bytes, the index says \d+|fails its CRC32 check|does not inflate)/,
      ),
      wholeReads: 1,
      after: null,
    });
  });

  test("a window whose block does not match the index still yields exactly its lines, from the whole object", async () => {
    const log = stepLog();
    const other = log.text.replace("[15000] ", "[15000]_");
    const wrong = await setup(other);
    const { gz } = await setup(log.text);
    const reader = await openArchive(
      source(gz, serializeIndex(wrong.index), memRange(gz), { logBytes: log.text.length }).src,
    );
    const bytes: Uint8Array[] = [];
    for await (const seg of reader.from(14_990, 20)) for await (const c of seg.chunks) bytes.push(c);
    expect({ text: Buffer.concat(bytes).toString(), fellBack: reader.index === null }).toEqual({
      text: `${log.lines.slice(14_990, 15_010).join("\n")}\n`,
      fellBack: true,
    });
  });

  test("a damaged archive is an error, never a shorter log", async () => {
    const log = stepLog();
    const { gz, index } = await setup(log.text);
    const damaged = Buffer.from(gz);
    const b = index.blocks.at(-2)!;
    damaged[(b.start + b.end) >> 1]! ^= 0x55;
    const reader = await openArchive(
      source(damaged, serializeIndex(index), memRange(damaged), { logBytes: index.logBytes }).src,
    );
    await expect(texts(reader.tail(100_000))).rejects.toThrow(/corrupt or unreadable archive/);
    const named = await openArchive({
      ...source(damaged, serializeIndex(index), memRange(damaged), { logBytes: index.logBytes }).src,
      fail: (why) => new Error(`archive of job 42 could not be read: ${why}`),
    });
    await expect(texts(named.tail(100_000))).rejects.toThrow(
      /^archive of job 42 could not be read: corrupt or unreadable archive/,
    );
  });

  test("a local file serves ranges byte for byte", async () => {
    using dir = tempDir();
    const path = join(dir.path, "f");
    const bytes = new Uint8Array(1_000_000).map((_, i) => i % 251);
    writeFileSync(path, bytes);
    const parts: Uint8Array[] = [];
    for await (const c of fileRange(path)(12_345, 987_654)) parts.push(c);
    expect(Buffer.concat(parts).equals(Buffer.from(bytes.subarray(12_345, 987_654)))).toBe(true);
  });
});

describe("ranged reads from S3", () => {
  test("s3rver answers Range GETs; a tail and a window are each one Range GET of at most two blocks, plus the index", async () => {
    await using s3 = await startS3();
    const log = stepLog();
    const { gz, index } = await setup(log.text);
    const key = "ws/task/2025/02/12/2025-02-12T10-56-45_job.jsonl.gz";
    await s3.putRaw(key, gz);
    await s3.putRaw(`${key}.idx`, Buffer.from(serializeIndex(index)));
    const sdk = await import("@aws-sdk/client-s3");
    const client = new sdk.S3Client({
      endpoint: s3.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    const get = async (Key: string, Range?: string) =>
      (await client.send(new sdk.GetObjectCommand({ Bucket: s3.bucket, Key, ...(Range ? { Range } : {}) })))
        .Body as unknown as AsyncIterable<Uint8Array> & { transformToByteArray(): Promise<Uint8Array> };
    const src: ArchiveSource = {
      getRange: async function* (start, end) {
        yield* await get(key, `bytes=${start}-${end - 1}`);
      },
      getObject: () => get(key),
      getIndex: async () => (await get(`${key}.idx`)).transformToByteArray(),
      logBytes: index.logBytes,
      objectBytes: gz.length,
    };
    s3.requests.length = 0;
    const reader = await openArchive(src);
    const tail = await texts(reader.tail(100));
    const window = await texts(reader.from(17_000, 100), { from: 17_000, count: 100 });
    await s3.settled();
    const gets = s3.requests.filter((r) => r.method === "GET");
    const biggest2 = index.blocks
      .map((b) => b.end - b.start)
      .sort((a, b) => b - a)
      .slice(0, 2)
      .reduce((a, b) => a + b);
    expect({
      fallback: reader.fallback,
      tail: tail.join("\n") === log.lines.slice(-100).join("\n"),
      window: window.join("\n") === log.lines.slice(17_000, 17_100).join("\n"),
      gets: gets.map((r) => ({
        path: r.path,
        ranged: r.range !== null,
        status: r.status,
        small: r.bytes <= biggest2,
      })),
    }).toEqual({
      fallback: null,
      tail: true,
      window: true,
      gets: [
        { path: `/${s3.bucket}/${key}.idx`, ranged: false, status: 200, small: true },
        { path: `/${s3.bucket}/${key}`, ranged: true, status: 206, small: true },
        { path: `/${s3.bucket}/${key}`, ranged: true, status: 206, small: true },
      ],
    });
  });
});
