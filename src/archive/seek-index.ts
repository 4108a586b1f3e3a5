// The seek index of a single-member archive: built, serialised, parsed (never trusted) and looked up.
import * as v from "valibot";

export const INDEX_FORMAT = "stroem-logs archive index";
export const INDEX_VERSION = 1;
/** Where an archive's index lives: a sidecar object beside it, which tools that fetch the archive never see. */
export const indexKeyOf = (archiveKey: string): string => `${archiveKey}.idx`;

/**
 * The gzip comment (FCOMMENT, RFC 1952 2.3.1) of every archive stroem-logs writes: how it tells its own
 * object at a key from one someone else put there (archive/foreign.ts). Every gzip reader skips it.
 */
export const WRITER_COMMENT = "stroem-logs";
/** The gzip header the writer emits: no name, no mtime, no extra field; the comment, zero-terminated. */
export const GZIP_HEADER_BYTES = 10 + WRITER_COMMENT.length + 1;
/** The header of the archives written before the comment: their indexes are read as they were written. */
const HEADER_SIZES = [GZIP_HEADER_BYTES, 10];
/** After the last block: an empty final block (2 bytes) and the trailer (CRC32, ISIZE). */
export const GZIP_END_BYTES = 10;

/** One flush block as the writer saw it. */
export interface BlockRecord {
  /** Bytes of log in the block. */
  bytes: number;
  /** Bytes of raw deflate in the object. */
  gzBytes: number;
  newlines: number;
  crc32: number;
  /** The block's last byte is a newline (the next block starts a line). */
  endsLine: boolean;
  /** Step names in the block; null: may hold any. */
  steps: string[] | null;
}

/** One flush block, located. Offsets `start`/`end` are in the object; `u` in the log. */
export interface Block {
  start: number;
  end: number;
  u: number;
  bytes: number;
  /** The number of the line the block's first byte belongs to (the newlines before it). */
  line: number;
  newlines: number;
  crc32: number;
  /** The first byte continues a line that began in an earlier block (a line longer than a block). */
  midLine: boolean;
  /** Indexes into `ArchiveIndex.steps`; null: the block may hold any step. */
  steps: number[] | null;
}

export interface ArchiveIndex {
  version: typeof INDEX_VERSION;
  /** Uncompressed size: the log bytes archived. */
  logBytes: number;
  /** Lines, counting a last line without a newline. */
  lines: number;
  /** CRC32 of the log bytes (the gzip trailer's). */
  crc32: number;
  /** Size of the archive object. */
  objectBytes: number;
  /** The writer's target block size and deflate level (informative). */
  blockBytes: number;
  level: number;
  steps: string[];
  blocks: Block[];
}

export class IndexError extends Error {
  override name = "IndexError";
}

/** The index of an archive written as `records`, in order, after a gzip header of `headerBytes`. */
export function buildIndex(
  records: readonly BlockRecord[],
  meta: { crc32: number; blockBytes: number; level: number },
  headerBytes = GZIP_HEADER_BYTES,
): ArchiveIndex {
  const steps: string[] = [];
  const stepNo = new Map<string, number>();
  const blocks: Block[] = [];
  let start = headerBytes;
  let u = 0;
  let line = 0;
  let midLine = false;
  for (const r of records) {
    const ids =
      r.steps === null
        ? null
        : r.steps.map((s) => {
            let id = stepNo.get(s);
            if (id === undefined) {
              id = steps.push(s) - 1;
              stepNo.set(s, id);
            }
            return id;
          });
    blocks.push({
      start,
      end: start + r.gzBytes,
      u,
      bytes: r.bytes,
      line,
      newlines: r.newlines,
      crc32: r.crc32,
      midLine,
      steps: ids === null ? null : ids.sort((a, b) => a - b),
    });
    start += r.gzBytes;
    u += r.bytes;
    line += r.newlines;
    midLine = !r.endsLine;
  }
  return {
    version: INDEX_VERSION,
    logBytes: u,
    lines: line + (midLine ? 1 : 0),
    crc32: meta.crc32,
    objectBytes: start + GZIP_END_BYTES,
    blockBytes: meta.blockBytes,
    level: meta.level,
    steps,
    blocks,
  };
}

// ---- serialisation -------------------------------------------------------------------------------------

const CHECKSUM = /,"checksum":"crc32:([0-9a-f]{8})"\}\n?$/;

/**
 * Compact JSON, one column per field (a block costs ~35 bytes), ending in a CRC32 of every byte before
 * it: `…,"checksum":"crc32:1a2b3c4d"}`. The checksum is over the text itself, so verifying it needs no
 * canonical re-serialisation.
 */
export function serializeIndex(index: ArchiveIndex): string {
  const b = index.blocks;
  const body = JSON.stringify({
    format: INDEX_FORMAT,
    version: index.version,
    log_bytes: index.logBytes,
    lines: index.lines,
    crc32: index.crc32,
    object_bytes: index.objectBytes,
    block_bytes: index.blockBytes,
    level: index.level,
    steps: index.steps,
    blocks: {
      bytes: b.map((x) => x.bytes),
      gz_bytes: b.map((x) => x.end - x.start),
      newlines: b.map((x) => x.newlines),
      crc32: b.map((x) => x.crc32),
      steps: b.map((x) => x.steps),
      mid_line: b.flatMap((x, i) => (x.midLine ? [i] : [])),
    },
  });
  const head = `${body.slice(0, -1)},"checksum":"crc32:`;
  return `${head}${hex(Bun.hash.crc32(head))}"}\n`;
}

const hex = (n: number) => n.toString(16).padStart(8, "0");

const Count = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const U32 = v.pipe(Count, v.maxValue(0xffffffff));
const isInt = (x: unknown, min: number, max: number): x is number =>
  Number.isSafeInteger(x) && (x as number) >= min && (x as number) <= max;
/**
 * A column of integers in [min, max], checked in one loop: a schema per element cost ~2 ms per
 * 1,000-entry column, most of the parse of a 1 GB log's index.
 */
const column = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  v.custom<number[]>(
    (x) => Array.isArray(x) && x.every((n) => isInt(n, min, max)),
    `expected an array of integers ≥ ${min}${max === Number.MAX_SAFE_INTEGER ? "" : ` and ≤ ${max}`}`,
  );
const stepSets = v.custom<(number[] | null)[]>(
  (x) =>
    Array.isArray(x) &&
    x.every((s) => s === null || (Array.isArray(s) && s.every((n) => isInt(n, 0, Number.MAX_SAFE_INTEGER)))),
  "expected an array of null or arrays of integers ≥ 0",
);
const Body = v.strictObject({
  format: v.literal(INDEX_FORMAT),
  version: v.literal(INDEX_VERSION),
  log_bytes: Count,
  lines: Count,
  crc32: U32,
  object_bytes: Count,
  block_bytes: Count,
  level: v.pipe(Count, v.minValue(1), v.maxValue(9)),
  steps: v.array(v.string()),
  blocks: v.strictObject({
    bytes: column(1),
    gz_bytes: column(1),
    newlines: column(0),
    crc32: column(0, 0xffffffff),
    steps: stepSets,
    mid_line: column(0),
  }),
  checksum: v.string(),
});

/** What the reader knows of the archive from elsewhere (the archive's recorded state). */
export interface IndexExpect {
  logBytes?: number | undefined;
  objectBytes?: number | undefined;
}

/**
 * Parses and checks an index: its checksum, its shape, and that its blocks add up to its totals (and to
 * what the caller expects). Anything else is an IndexError: an index is never trusted on its word.
 */
export function parseIndex(data: string | Uint8Array, expect: IndexExpect = {}): ArchiveIndex {
  const text = typeof data === "string" ? data : new TextDecoder("utf-8", { fatal: false }).decode(data);
  const m = CHECKSUM.exec(text);
  if (m === null) throw new IndexError("archive index is truncated or not an index (no checksum at its end)");
  const head = text.slice(0, m.index + ',"checksum":"crc32:'.length);
  const got = hex(Bun.hash.crc32(head));
  if (got !== m[1])
    throw new IndexError(`archive index is corrupt (checksum crc32:${m[1]}, content crc32:${got})`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new IndexError(`archive index is not valid JSON (${(e as Error).message})`);
  }
  const version = (raw as { version?: unknown } | null)?.version;
  if (version !== INDEX_VERSION) {
    throw new IndexError(
      `archive index version ${JSON.stringify(version)} is not supported (this reader: ${INDEX_VERSION})`,
    );
  }
  const r = v.safeParse(Body, raw);
  if (!r.success) {
    const issue = r.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join(".") ?? "";
    throw new IndexError(`archive index is malformed: ${path ? `${path}: ` : ""}${issue.message}`);
  }
  const o = r.output;
  const cols = o.blocks;
  const n = cols.bytes.length;
  for (const [name, col] of Object.entries(cols)) {
    if (name !== "mid_line" && col.length !== n) {
      throw new IndexError(
        `archive index is malformed: blocks.${name} has ${col.length} entries, blocks.bytes ${n}`,
      );
    }
  }
  const mid = new Set(cols.mid_line);
  for (const b of mid)
    if (b === 0 || b >= n) throw new IndexError(`archive index is malformed: mid_line block ${b} of ${n}`);
  // A last line without a newline is the one line the newlines do not count.
  const openEnd = o.lines > sum(cols.newlines);
  const records: BlockRecord[] = [];
  for (let i = 0; i < n; i++) {
    const ids = cols.steps[i]!;
    if (ids?.some((id) => id >= o.steps.length)) {
      throw new IndexError(
        `archive index is malformed: block ${i} names step ${Math.max(...ids)} of ${o.steps.length}`,
      );
    }
    records.push({
      bytes: cols.bytes[i]!,
      gzBytes: cols.gz_bytes[i]!,
      newlines: cols.newlines[i]!,
      crc32: cols.crc32[i]!,
      endsLine: i === n - 1 ? !openEnd : !mid.has(i + 1),
      steps: ids === null ? null : ids.map((id) => o.steps[id]!),
    });
  }
  // The blocks start after the header, whose size the index does not state: the object's size says which.
  const headerBytes =
    HEADER_SIZES.find((h) => h + sum(cols.gz_bytes) + GZIP_END_BYTES === o.object_bytes) ?? GZIP_HEADER_BYTES;
  const index = buildIndex(
    records,
    { crc32: o.crc32, blockBytes: o.block_bytes, level: o.level },
    headerBytes,
  );
  const check = (what: string, stated: number, actual: number) => {
    if (stated !== actual)
      throw new IndexError(
        `archive index is inconsistent: ${what} ${stated}, its blocks add up to ${actual}`,
      );
  };
  check("log_bytes", o.log_bytes, index.logBytes);
  check("object_bytes", o.object_bytes, index.objectBytes);
  check("lines", o.lines, index.lines);
  if (expect.logBytes !== undefined && expect.logBytes !== index.logBytes) {
    throw new IndexError(
      `archive index describes ${index.logBytes} bytes of log, the archive holds ${expect.logBytes}`,
    );
  }
  if (expect.objectBytes !== undefined && expect.objectBytes !== index.objectBytes) {
    throw new IndexError(
      `archive index describes a ${index.objectBytes}-byte object, the archive is ${expect.objectBytes} bytes`,
    );
  }
  return index;
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

// ---- lookups -------------------------------------------------------------------------------------------

/**
 * Consecutive blocks [first, last] and their bytes [start, end) in the object. Reading them, passing over
 * `skip` newlines from the start of block `first`, begins exactly at line `line`.
 */
export interface Span {
  first: number;
  last: number;
  start: number;
  end: number;
  skip: number;
  line: number;
}

/** The block holding newline number `k` (0-based over the whole log). */
function blockOfNewline(index: ArchiveIndex, k: number): number {
  const { blocks } = index;
  let lo = 0;
  let hi = blocks.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const b = blocks[mid]!;
    if (b.line + b.newlines > k) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Where reading line `n` begins: a block and the newlines to pass over in it; null past the last line. */
export function lineStart(index: ArchiveIndex, n: number): { block: number; skip: number } | null {
  if (n < 0 || n >= index.lines) return null;
  if (n === 0) return { block: 0, skip: 0 };
  const b = blockOfNewline(index, n - 1);
  const blk = index.blocks[b]!;
  const next = index.blocks[b + 1];
  // Line n starts right after newline n-1; when that is the block's last byte, it starts the next block.
  if (n === blk.line + blk.newlines && next !== undefined && !next.midLine) return { block: b + 1, skip: 0 };
  return { block: b, skip: n - blk.line };
}

/** The block holding the end of line `n` (its newline; the last block for a last line without one). */
function lineEndBlock(index: ArchiveIndex, n: number): number {
  const last = index.blocks.length - 1;
  const nl = index.blocks[last]!.line + index.blocks[last]!.newlines;
  return n < nl ? blockOfNewline(index, n) : last;
}

/** The span holding lines [from, from + count) (to the last line without `count`); null when empty. */
export function linesSpan(index: ArchiveIndex, from: number, count?: number): Span | null {
  if (count !== undefined && count <= 0) return null;
  const s = lineStart(index, Math.max(0, from));
  if (s === null) return null;
  const lastLine = count === undefined ? index.lines - 1 : Math.min(index.lines - 1, from + count - 1);
  const e = lineEndBlock(index, lastLine);
  return span(index, s.block, e, s.skip);
}

/** Which byte range of the object holds line `n`. */
export const lineSpan = (index: ArchiveIndex, n: number): Span | null => linesSpan(index, n, 1);

/** The span holding the last `k` lines. */
export const tailSpan = (index: ArchiveIndex, k: number): Span | null =>
  k <= 0 ? null : linesSpan(index, Math.max(0, index.lines - k));

/**
 * Runs of consecutive blocks, from the one where line `from` begins, that may hold lines of `step`.
 * A later run that begins inside a line passes over that line's remainder: it is not the step's (its
 * blocks would all carry the step, and the run would reach back).
 */
export function stepSpans(index: ArchiveIndex, step: string, from = 0): Span[] {
  const s = lineStart(index, Math.max(0, from));
  if (s === null) return [];
  const id = index.steps.indexOf(step);
  const may = (b: Block) => b.steps === null || (id !== -1 && b.steps.includes(id));
  const out: Span[] = [];
  let runStart = -1;
  for (let b = s.block; b <= index.blocks.length; b++) {
    const blk = index.blocks[b];
    if (blk !== undefined && may(blk)) {
      if (runStart === -1) runStart = b;
      continue;
    }
    if (runStart !== -1) {
      const first = index.blocks[runStart]!;
      out.push(span(index, runStart, b - 1, runStart === s.block ? s.skip : first.midLine ? 1 : 0));
      runStart = -1;
    }
  }
  return out;
}

function span(index: ArchiveIndex, first: number, last: number, skip: number): Span {
  const f = index.blocks[first]!;
  return { first, last, start: f.start, end: index.blocks[last]!.end, skip, line: f.line + skip };
}
