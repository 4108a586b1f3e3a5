// Reads of a single-member archive that fetch only the blocks they need, with a whole-object fallback.
import { closeSync, openSync, readSync } from "node:fs";
import { constants, inflateRawSync } from "node:zlib";
import { splitLines } from "../core/scan.ts";
import {
  type ArchiveIndex,
  IndexError,
  linesSpan,
  parseIndex,
  type Span,
  stepSpans,
  tailSpan,
} from "./seek-index.ts";
import { reason } from "./target.ts";
import { gunzip } from "./tier.ts";

/** Bytes [start, endExclusive) of the archive object (an S3 Range GET). */
export type GetRange = (start: number, endExclusive: number) => AsyncIterable<Uint8Array>;

export interface ArchiveSource {
  getRange: GetRange;
  /** The whole object, streamed: the path for archives without a usable index. */
  getObject: () => Promise<AsyncIterable<Uint8Array>>;
  /**
   * The sidecar index's bytes (or the index, already parsed and checked against this archive); null when
   * there is none. A rejection counts as no index.
   */
  getIndex: () => Promise<Uint8Array | string | ArchiveIndex | null>;
  /** Log bytes the archive holds (its recorded state): checked against the index and the fallback read. */
  logBytes: number;
  /** The object's size when known (its recorded state): an index of another upload is not used. */
  objectBytes?: number | undefined;
  /** The log's line count when known: a tail without an index then needs one pass, not two. */
  lines?: number | undefined;
  /** The error for an archive that cannot be read whole (damaged, short): the read path's 502. */
  fail?: ((why: string) => Error) | undefined;
}

/** Bytes that begin at the start of line `line`. A read is a sequence of these (a step read skips blocks). */
export interface Segment {
  line: number;
  chunks: AsyncIterable<Uint8Array>;
}

/** The archive does not hold what its index says (another upload's index, a damaged object). */
export class ArchiveMismatch extends Error {
  override name = "ArchiveMismatch";
}

const YIELD_BYTES = 256 * 1024;

/**
 * Inflates the blocks of `span` from one ranged fetch, each checked against the index (length, CRC32)
 * before any of its bytes are yielded, from the span's first line on (and through `lines` lines, when
 * given: the rest of the last block is not decoded by anyone). Holds one block (compressed and inflated)
 * at a time.
 */
export async function* readSpan(
  index: ArchiveIndex,
  span: Span,
  getRange: GetRange,
  lines?: number,
): AsyncGenerator<Uint8Array> {
  for await (const piece of spanPieces(index, span, getRange, lines)) yield piece.bytes;
}

/** `readSpan`, with each piece's offset in the log. */
async function* spanPieces(
  index: ArchiveIndex,
  span: Span,
  getRange: GetRange,
  lines = Number.POSITIVE_INFINITY,
): AsyncGenerator<{ u: number; bytes: Uint8Array }> {
  if (lines <= 0) return;
  let left = lines;
  let b = span.first;
  let blk = index.blocks[b]!;
  let pending = new Uint8Array(blk.end - blk.start);
  let filled = 0;
  let skip = span.skip;
  let pos = span.start;
  let finished = false;
  for await (const chunk of getRange(span.start, span.end)) {
    if (finished && chunk.length > 0) {
      throw new ArchiveMismatch(`the range ${span.start}-${span.end} returned more bytes than asked for`);
    }
    let off = 0;
    while (off < chunk.length) {
      if (b > span.last) {
        throw new ArchiveMismatch(`the range ${span.start}-${span.end} returned more bytes than asked for`);
      }
      const n = Math.min(chunk.length - off, pending.length - filled);
      pending.set(chunk.subarray(off, off + n), filled);
      filled += n;
      off += n;
      pos += n;
      if (filled < pending.length) continue;
      const out = inflateBlock(index, b, pending);
      let from = 0;
      if (skip > 0) {
        const at = passNewlines(out, skip);
        skip -= at.passed;
        from = at.offset;
      }
      let to = out.length;
      if (left !== Number.POSITIVE_INFINITY && from < to) {
        const at = passNewlines(out.subarray(from), left);
        left -= at.passed;
        if (left === 0) to = from + at.offset;
      }
      for (let i = from; i < to; i += YIELD_BYTES) {
        yield { u: blk.u + i, bytes: out.subarray(i, Math.min(to, i + YIELD_BYTES)) };
      }
      if (left === 0) {
        // More of the range is on its way: close it. Else let the body end, so that its connection is
        // kept for the next GET (closing it would cost a new connection, with TLS a handshake, a read).
        if (pos < span.end) return;
        finished = true;
        break;
      }
      if (++b > span.last) continue;
      blk = index.blocks[b]!;
      pending =
        blk.end - blk.start > pending.buffer.byteLength
          ? new Uint8Array(blk.end - blk.start)
          : new Uint8Array(pending.buffer, 0, blk.end - blk.start);
      filled = 0;
    }
  }
  if (finished) return;
  if (b <= span.last) {
    throw new ArchiveMismatch(
      `the archive ended at byte ${pos}, inside block ${b}, which the index says ends at ${blk.end}`,
    );
  }
}

function inflateBlock(index: ArchiveIndex, b: number, deflated: Uint8Array): Uint8Array {
  const blk = index.blocks[b]!;
  let out: Uint8Array;
  try {
    // A block ends in a full flush, not a final block: a sync flush inflates all of it and stops there.
    // The size cap stops a damaged block from inflating without bound.
    // One output chunk of the block's size: inflating into 16 KiB chunks and joining them cost ~60% more.
    out = inflateRawSync(deflated, {
      finishFlush: constants.Z_SYNC_FLUSH,
      maxOutputLength: blk.bytes + 1,
      chunkSize: Math.max(64 * 1024, blk.bytes + 1),
    });
  } catch (e) {
    throw new ArchiveMismatch(`block ${b} at byte ${blk.start} does not inflate (${reason(e)})`);
  }
  if (out.length !== blk.bytes) {
    throw new ArchiveMismatch(
      `block ${b} at byte ${blk.start} inflates to ${out.length} bytes, the index says ${blk.bytes}`,
    );
  }
  const crc = Bun.hash.crc32(out);
  if (crc !== blk.crc32) throw new ArchiveMismatch(`block ${b} at byte ${blk.start} fails its CRC32 check`);
  return out;
}

/** Passes over up to `n` newlines of `bytes`: how many were passed and the offset after the last one. */
function passNewlines(bytes: Uint8Array, n: number): { passed: number; offset: number } {
  let passed = 0;
  let offset = 0;
  while (passed < n) {
    const i = bytes.indexOf(10, offset);
    if (i === -1) return { passed, offset: bytes.length };
    passed++;
    offset = i + 1;
  }
  return { passed, offset };
}

function newlines(bytes: Uint8Array): number {
  let n = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) n++;
  return n;
}

/** The first `lines` lines of a byte stream; stops reading there. */
async function* take(chunks: AsyncIterable<Uint8Array>, lines: number): AsyncGenerator<Uint8Array> {
  let left = lines;
  if (left <= 0) return;
  for await (const chunk of chunks) {
    const p = passNewlines(chunk, left);
    left -= p.passed;
    yield left === 0 ? chunk.subarray(0, p.offset) : chunk;
    if (left === 0) return;
  }
}

/** Drops the first `lines` lines, or the first `bytes` bytes, of a byte stream. */
async function* drop(
  chunks: AsyncIterable<Uint8Array>,
  at: { lines: number } | { bytes: number },
): AsyncGenerator<Uint8Array> {
  let lines = "lines" in at ? at.lines : 0;
  let bytes = "bytes" in at ? at.bytes : 0;
  for await (const chunk of chunks) {
    let from = 0;
    if (bytes > 0) {
      from = Math.min(bytes, chunk.length);
      bytes -= from;
    } else if (lines > 0) {
      const p = passNewlines(chunk, lines);
      lines -= p.passed;
      from = p.offset;
    }
    if (from < chunk.length && bytes === 0 && lines === 0) yield from === 0 ? chunk : chunk.subarray(from);
  }
}

export interface ArchiveReader {
  /** The index in use; null when reads go through the whole object. */
  index: ArchiveIndex | null;
  /** Why there is no index in use (missing, corrupt, of another upload); null when there is one. */
  fallback: string | null;
  /** Lines from `from` on; with `count`, exactly the bytes of lines [from, from + count). */
  from(from: number, count?: number): AsyncIterable<Segment>;
  /** Like `from`, but only blocks that may hold lines of `step` (lines of other steps come along). */
  step(step: string, from?: number): AsyncIterable<Segment>;
  /** The last `k` lines. */
  tail(k: number): AsyncIterable<Segment>;
}

/**
 * Opens an archive for reading: with its index when the index is present, intact and of this object;
 * otherwise every read streams the whole object, as archives without an index (multi-member archives of
 * earlier versions, Strøm's own) are read. A block that does not match the index also falls back, from
 * the first line not yet yielded.
 */
export async function openArchive(src: ArchiveSource): Promise<ArchiveReader> {
  let index: ArchiveIndex | null = null;
  let fallback: string | null = null;
  try {
    const data = await src.getIndex();
    if (data === null) fallback = "the archive has no index";
    else if (typeof data === "object" && "blocks" in data) index = data;
    else index = parseIndex(data, { logBytes: src.logBytes, objectBytes: src.objectBytes });
  } catch (e) {
    fallback = e instanceof IndexError ? e.message : `the archive's index could not be read (${reason(e)})`;
  }

  /** The whole object, inflated, from a line (or a byte) on. */
  async function whole(at: { lines: number } | { bytes: number }): Promise<AsyncIterable<Uint8Array>> {
    const chunks = gunzip(await src.getObject(), src.logBytes, src.fail ?? ((why) => new Error(why)));
    return ("lines" in at ? at.lines : at.bytes) === 0 ? chunks : drop(chunks, at);
  }

  /** Set once a block did not match the index: the segment it was in went on from the whole object. */
  let switched = false;

  async function* segments(
    plan: (index: ArchiveIndex) => Span[],
    fromLine: number,
    count?: number,
  ): AsyncGenerator<Segment> {
    if (index === null) {
      const rest = await whole({ lines: fromLine });
      yield { line: fromLine, chunks: count === undefined ? rest : take(rest, count) };
      return;
    }
    for (const span of plan(index)) {
      if (switched) return;
      yield { line: span.line, chunks: spanChunks(index, span, count) };
    }
  }

  /**
   * The bytes of a span; when a block does not match, the rest of the log from the whole object, from
   * the first byte not yet yielded, so the reader sees one exact byte stream either way.
   */
  async function* spanChunks(idx: ArchiveIndex, span: Span, count?: number): AsyncGenerator<Uint8Array> {
    let next = -1;
    let left = count ?? Number.POSITIVE_INFINITY;
    try {
      for await (const piece of spanPieces(idx, span, src.getRange, count)) {
        yield piece.bytes;
        next = piece.u + piece.bytes.length;
        if (count !== undefined) left -= newlines(piece.bytes);
      }
    } catch (e) {
      if (!(e instanceof ArchiveMismatch)) throw e;
      fallback = e.message;
      index = null;
      switched = true;
      const rest = await whole(next === -1 ? { lines: span.line } : { bytes: next });
      yield* count === undefined ? rest : take(rest, left);
    }
  }

  return {
    get index() {
      return index;
    },
    get fallback() {
      return fallback;
    },
    from(from, count) {
      if (count !== undefined && count <= 0) return (async function* () {})();
      return segments((idx) => nonNull(linesSpan(idx, from, count)), Math.max(0, from), count);
    },
    step(step, from = 0) {
      return segments((idx) => stepSpans(idx, step, from), Math.max(0, from));
    },
    tail(k) {
      const total = index?.lines ?? src.lines;
      if (total !== undefined) return segments((idx) => nonNull(tailSpan(idx, k)), Math.max(0, total - k));
      // Neither an index nor a line count: one pass to count the lines, one to read the last k.
      return (async function* () {
        let lines = 0;
        let last = 10;
        for await (const chunk of await whole({ lines: 0 })) {
          lines += newlines(chunk);
          if (chunk.length > 0) last = chunk[chunk.length - 1]!;
        }
        if (last !== 10) lines++;
        yield* segments(() => [], Math.max(0, lines - k));
      })();
    },
  };
}

const nonNull = (s: Span | null): Span[] => (s === null ? [] : [s]);

/** Bytes of a local file as ranges: the local archive target's `getRange`, and the local baseline. */
export function fileRange(path: string): GetRange {
  return async function* (start, end) {
    const fd = openSync(path, "r");
    try {
      const buf = new Uint8Array(Math.min(YIELD_BYTES, Math.max(0, end - start)));
      for (let pos = start; pos < end; ) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
        if (n === 0) return;
        pos += n;
        // A copy: the consumer may hold a chunk past the next read.
        yield buf.slice(0, n);
      }
    } finally {
      closeSync(fd);
    }
  };
}

/**
 * The numbered lines of a read: lines [from, from + count) of the segments (all of them without `count`),
 * optionally only those that `match` (a step filter's matcher). Stopping early closes the fetch.
 */
export async function* readLines(
  segments: AsyncIterable<Segment>,
  opts: { from?: number; count?: number; match?: ((text: string) => boolean) | null } = {},
): AsyncGenerator<{ line: number; text: string }> {
  const from = opts.from ?? 0;
  let left = opts.count ?? Number.POSITIVE_INFINITY;
  if (left <= 0) return;
  for await (const seg of segments) {
    let n = seg.line;
    for await (const parts of splitLines(seg.chunks)) {
      for (const text of parts) {
        const line = n++;
        if (line < from || (opts.match && !opts.match(text))) continue;
        yield { line, text };
        if (--left === 0) return;
      }
    }
  }
}
