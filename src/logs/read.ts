// The read path: picks the tier (local JSONL, legacy .log, archive) and selects lines by cursor and filter.
import { closeSync, openSync, readSync } from "node:fs";
import { basename } from "node:path";
import type { Job } from "../core/job.ts";
import {
  type LineFilter,
  makeMatcher,
  makeTextMatcher,
  parseLine,
  requiredNeedle,
  truncateLine,
} from "../core/line.ts";
import {
  type Batch,
  countSelected,
  detach,
  selectForward,
  splitLines,
  splitLinesWith,
} from "../core/scan.ts";
import { AppError } from "../errors.ts";
import type { LogStore } from "./store.ts";
import { tailStart } from "./tail.ts";

const READ_BLOCK = 256 * 1024;

export type SourceKind = "local" | "legacy" | "archive" | "none";

/** The archive tier, plugged in by the archive module. */
export interface ArchiveTier {
  /** Whether an archive of this job exists (or is worth trying). */
  has(job: Job): Promise<boolean>;
  /** Decompressed bytes of the archived log; throws an AppError (502) when it cannot be read. */
  open(job: Job): AsyncIterable<Uint8Array>;
  /** True when the job's archive is verified: the log is complete and final. */
  verified(job: Job): Promise<boolean>;
  /**
   * The archived log for reads that start at a line: with the archive's seek index they fetch only the
   * blocks they need; without one (older archives, Strøm's) they stream the whole object. Throws an
   * AppError (502) when no archive was uploaded.
   */
  seek?(job: Job): Promise<ArchivedLog>;
}

/** Bytes that begin at the start of line `line`; a read is a sequence of them (a step read skips blocks). */
export interface Segment {
  line: number;
  chunks: AsyncIterable<Uint8Array>;
}

/** An archived log, read by line number. */
export interface ArchivedLog {
  /** Lines the archive holds, when known. */
  readonly lines: number | null;
  /** True while reads go through ranged fetches with the index. */
  readonly ranged: boolean;
  /** Why reads go through the whole object (no index, an index that does not match); null otherwise. */
  readonly fallback: string | null;
  /** Lines from `from` on; with `count`, lines [from, from + count) exactly. */
  from(from: number, count?: number): AsyncIterable<Segment>;
  /** Lines from `from` on, only of blocks that may hold lines of `step` (other steps' lines come along). */
  step(step: string, from?: number): AsyncIterable<Segment>;
  /** The last `k` lines. */
  tail(k: number): AsyncIterable<Segment>;
}

export interface ReadQuery {
  from: number;
  limit?: number | undefined;
  tail?: number | undefined;
  filter: LineFilter;
}

export interface Selection {
  source: Exclude<SourceKind, "none">;
  /** Selected lines, in order. */
  batches: AsyncIterable<Batch>;
  /** Resolves once `batches` is exhausted: the cursor to continue from. */
  next: () => number;
}

export interface ReaderDeps {
  store: LogStore;
  getJob: (id: string) => Promise<Job | null>;
  checkpoint: (id: string, line: number) => Promise<{ line: number; offset: number }>;
  archive?: ArchiveTier | undefined;
}

export type Reader = ReturnType<typeof createReader>;

export function createReader(deps: ReaderDeps) {
  const { store } = deps;

  /** Which tier serves this job now; "none" when no tier has it. */
  async function sourceOf(id: string, job: Job | null): Promise<SourceKind> {
    if (store.size(id) !== null && !(job && job.byte_count > 0 && store.size(id)! < job.byte_count))
      return "local";
    if (store.hasLegacy(id)) return "legacy";
    if (job && (await deps.archive?.has(job))) return "archive";
    return "none";
  }

  /**
   * Bytes [start, end) of a file (to its end without `end`), read in 256 KiB blocks into one reused buffer.
   * Only `splitLines` consumes these, and it decodes each block before asking for the next. Fresh chunks
   * from Bun.file().stream() cost a first touch of new memory each (slow on these VMs): a step read of a
   * big log ran ~20% faster this way, at lower RSS. A block read blocks the event loop briefly, like appends.
   */
  async function* fileChunks(
    path: string,
    start: number,
    end: number | undefined,
  ): AsyncGenerator<Uint8Array> {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      // Removed between choosing the tier and reading it (retention, delete after archive): a retry reads
      // the tier that holds the log now.
      throw new AppError(
        503,
        "log_moved",
        `the log file ${basename(path)} was removed while being read; retry`,
        {
          "Retry-After": "1",
        },
      );
    }
    const buf = Buffer.allocUnsafe(READ_BLOCK);
    try {
      for (let pos = start; ; ) {
        const want = end === undefined ? READ_BLOCK : Math.min(READ_BLOCK, end - pos);
        if (want <= 0) return;
        const n = readSync(fd, buf, 0, want, pos);
        if (n === 0) return;
        pos += n;
        yield buf.subarray(0, n);
      }
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Selects lines of job `id`. Returns null when no tier holds the job's log. Whatever the tier, the
   * same line numbers address the same lines.
   */
  async function select(id: string, query: ReadQuery): Promise<Selection | null> {
    const job = await deps.getJob(id);
    const kind = await sourceOf(id, job);
    if (kind === "none") return null;
    const match = makeMatcher(query.filter);
    let next = query.from;
    const done = () => next;

    // Plain text: every text line counts as a line; no line belongs to a step or stream, a text is in the raw line.
    const lineMatch = kind === "legacy" ? makeTextMatcher(query.filter) : match;
    const path = store.jsonlPath(id);
    // Bytes past the recorded end are not committed; a file without a row is read to its end.
    const end = kind === "local" && job ? job.byte_count : undefined;
    // Stored JSONL: a filter's needle is looked for in the bytes, and only lines holding it are decoded.
    const needle = kind === "legacy" ? null : requiredNeedle(query.filter);
    const lines = (chunks: AsyncIterable<Uint8Array>) => linesOf(chunks, needle);
    const open = (): AsyncIterable<string[]> =>
      kind === "legacy"
        ? lines(fileChunks(store.legacyPath(id), 0, undefined))
        : kind === "archive"
          ? lines(deps.archive!.open(job!))
          : lines(fileChunks(path, 0, end));

    if (kind === "archive" && deps.archive?.seek) {
      const tier = deps.archive;
      return {
        source: kind,
        // Opened when the first batch is pulled, as the whole-object read is: its failures are the read's.
        batches: drain(
          archived(() => tier.seek!(job!), query, match, needle),
          (n) => (next = n),
        ),
        next: done,
      };
    }
    if (query.tail === undefined) {
      return kind === "local" && job
        ? forwardLocal(query.from)
        : forward(open(), { from: query.from, limit: query.limit });
    }
    const tail = query.tail;
    if (kind === "local" && job) {
      // A tail is a cursor: find where the last `tail` lines begin, then read forward to the end. Without a
      // filter that is total - tail; with one, a backward scan counts matches without holding lines.
      const total = job.line_count;
      if (match === null) return forwardLocal(Math.max(query.from, total - tail));
      // The backward scan runs when the first batch is pulled (a reader marks that span as work, see http/idle.ts).
      const start = () => tailStart(path, job.byte_count, total, tail, query.from, match);
      return { source: kind, batches: deferred(() => start().then(forwardLocal)), next: done };
    }
    // A log that cannot seek (legacy, archive, a file without a row): count, then skip all but the last.
    const batches = (async function* () {
      const count = await countSelected(open(), { from: query.from, startLine: 0, match: lineMatch });
      yield* forward(open(), { from: query.from, skip: Math.max(0, count - tail) }).batches;
    })();
    return { source: kind, batches, next: done };

    function forward(
      src: AsyncIterable<string[]>,
      w: { from: number; limit?: number | undefined; skip?: number },
    ): Selection {
      const gen = selectForward(src, { ...w, startLine: 0, match: lineMatch });
      return {
        source: kind as Exclude<SourceKind, "none">,
        batches: drain(gen, (n) => (next = n)),
        next: done,
      };
    }

    async function forwardLocal(from: number): Promise<Selection> {
      const cp = await deps.checkpoint(id, from);
      const gen = selectForward(lines(fileChunks(path, cp.offset, end)), {
        from,
        limit: query.tail === undefined ? query.limit : undefined,
        startLine: cp.line,
        match,
      });
      return { source: "local", batches: drain(gen, (n) => (next = n)), next: done };
    }
  }

  return {
    select,
    sourceOf,
    /** True when nothing more will be appended: the job is terminal and settled (or its archive verified). */
    async isFinal(job: Job | null): Promise<boolean> {
      if (!job) return false;
      return job.settled_at !== null || ((await deps.archive?.verified(job)) ?? false);
    },
  };
}

/**
 * A read of an archived log: a window (`from`/`limit`), a step read or a tail, fetching from the line it
 * starts at. A tail with a filter counts the matching lines of what it would read, then reads it again.
 */
async function* archived(
  open: () => Promise<ArchivedLog>,
  query: ReadQuery,
  match: ((text: string) => boolean) | null,
  needle: string | null,
): AsyncGenerator<Batch, number> {
  const log = await open();
  const { from, tail } = query;
  const step = query.filter.step;
  const end = () => log.lines ?? 0;
  // With only a step filter the step's blocks are read; a stream filter alone may match any line.
  const span = () => (step !== undefined ? log.step(step, from) : log.from(from));
  if (tail === undefined) {
    const segments = match === null ? log.from(from, query.limit) : span();
    return yield* selectSegments(segments, { from, limit: query.limit, match, needle }, end);
  }
  if (match === null) {
    const segments = log.lines !== null ? log.from(Math.max(from, log.lines - tail)) : log.tail(tail);
    return yield* selectSegments(segments, { from, match }, end);
  }
  const count = await countSegments(span(), { from, match, needle });
  return yield* selectSegments(span(), { from, skip: Math.max(0, count - tail), match, needle }, end);
}

/** `selectForward` over numbered segments: a line's number comes from its segment, not from a running count. */
async function* selectSegments(
  segments: AsyncIterable<Segment>,
  w: {
    from: number;
    limit?: number | undefined;
    skip?: number;
    match: ((text: string) => boolean) | null;
    needle?: string | null;
  },
  end: () => number,
): AsyncGenerator<Batch, number> {
  let left = w.limit ?? Number.POSITIVE_INFINITY;
  let skip = w.skip ?? 0;
  let n = w.from;
  if (left <= 0) return w.from;
  for await (const seg of segments) {
    n = seg.line;
    for await (const parts of linesOf(seg.chunks, w.needle ?? null)) {
      const batch: Batch = { nums: [], texts: [] };
      for (const text of parts) {
        const num = n++;
        if (num < w.from || (w.match !== null && !w.match(text))) continue;
        if (skip > 0) {
          skip--;
          continue;
        }
        batch.nums.push(num);
        // See selectForward: a kept line must not pin the block it was cut from.
        batch.texts.push(w.match === null ? text : detach(text));
        if (--left === 0) {
          yield batch;
          return num + 1;
        }
      }
      if (batch.nums.length > 0) yield batch;
    }
  }
  // A step read passes over the blocks without the step: every line up to the end was examined.
  return Math.max(n, end(), w.from);
}

async function countSegments(
  segments: AsyncIterable<Segment>,
  w: { from: number; match: ((text: string) => boolean) | null; needle?: string | null },
): Promise<number> {
  let count = 0;
  for await (const seg of segments) {
    let n = seg.line;
    for await (const parts of linesOf(seg.chunks, w.needle ?? null)) {
      for (const text of parts) if (n++ >= w.from && (w.match === null || w.match(text))) count++;
    }
  }
  return count;
}

/** The lines of `chunks`; with a needle, lines without it come as "" (see splitLinesWith). */
function linesOf(chunks: AsyncIterable<Uint8Array>, needle: string | null): AsyncIterable<string[]> {
  return needle === null ? splitLines(chunks) : splitLinesWith(chunks, needle);
}

/** The batches of a selection that is known only once `make` resolves, made when the first batch is pulled. */
async function* deferred(make: () => Promise<Selection>): AsyncGenerator<Batch> {
  yield* (await make()).batches;
}

/** Re-yields a generator's values and hands its return value to `onReturn`. */
async function* drain(
  gen: AsyncGenerator<Batch, number>,
  onReturn: (n: number) => void,
): AsyncGenerator<Batch> {
  try {
    for (;;) {
      const r = await gen.next();
      if (r.done) {
        onReturn(r.value);
        return;
      }
      yield r.value;
    }
  } finally {
    // A reader that stops early (max_read_bytes, a client gone, a viewer's turn) returns this generator:
    // pass it on, so the chain beneath closes its file. Without it every early stop leaked a descriptor.
    await gen.return(0);
  }
}

export function archiveUnreadable(id: string, reason: string, cause?: unknown): AppError {
  return new AppError(
    502,
    "archive_unreadable",
    `archive of job ${id} could not be read: ${reason}`,
    {},
    cause,
  );
}

/** Room for `…[truncated N bytes]` (21 bytes and the digits of N). */
const MARKER_ROOM = 40;

/**
 * A stored line cut to at most `maxBytes` of UTF-8, for an answer that must stay within a size: a log-line
 * object keeps its fields and is cut in its `line` (so the answer is still valid JSONL); other text (a
 * legacy line) is cut as text. The cut never splits a character and ends with `…[truncated N bytes]`, N
 * counting the bytes of the text left out, as a line truncated at ingest does.
 */
export function cutLine(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const parsed = parseLine(text);
  if (parsed === null) return truncateLine(text, Math.max(0, maxBytes - MARKER_ROOM)).line;
  const fields = Buffer.byteLength(JSON.stringify({ ...parsed, line: "" }));
  // Escapes (quotes, control characters) make the encoded text longer than the raw one: shrink until it fits.
  let keep = maxBytes - fields - MARKER_ROOM;
  for (let i = 0; i < 8 && keep > 0; i++) {
    const encoded = JSON.stringify({ ...parsed, line: truncateLine(parsed.line, keep).line });
    const over = Buffer.byteLength(encoded) - maxBytes;
    if (over <= 0) return encoded;
    keep = Math.floor((keep * maxBytes) / (maxBytes + over)) - 1;
  }
  return JSON.stringify({ ...parsed, line: truncateLine(parsed.line, 0).line });
}
