// The read path: picks the tier (local JSONL, legacy .log, archive) and selects lines by cursor and filter.
import { AppError } from "../errors.ts";
import type { JobRow } from "../jobs/db.ts";
import { type LineFilter, makeMatcher } from "./line.ts";
import { type Batch, selectForward, selectTailBackward, selectTailForward, splitLines } from "./scan.ts";
import type { LogStore } from "./store.ts";

export type SourceKind = "local" | "legacy" | "archive" | "none";

/** The archive tier, plugged in by the archive module. */
export interface ArchiveTier {
  /** Whether an archive of this job exists (or is worth trying). */
  has(job: JobRow): boolean;
  /** Decompressed bytes of the archived log; throws an AppError (502) when it cannot be read. */
  open(job: JobRow): AsyncIterable<Uint8Array>;
  /** True when the job's archive is verified: the log is complete and final. */
  verified(job: JobRow): boolean;
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
  getJob: (id: string) => JobRow | null;
  checkpoint: (id: string, line: number) => { line: number; offset: number };
  archive?: ArchiveTier | undefined;
}

export type Reader = ReturnType<typeof createReader>;

export function createReader(deps: ReaderDeps) {
  const { store } = deps;

  /** Which tier serves this job now; "none" when no tier has it. */
  function sourceOf(id: string, job: JobRow | null): SourceKind {
    if (store.size(id) !== null && !(job && job.byte_count > 0 && store.size(id)! < job.byte_count))
      return "local";
    if (store.hasLegacy(id)) return "legacy";
    if (job && deps.archive?.has(job)) return "archive";
    return "none";
  }

  function fileChunks(path: string, start: number, end: number | undefined): AsyncIterable<Uint8Array> {
    const file = Bun.file(path);
    return (end === undefined ? file.slice(start) : file.slice(start, end)).stream();
  }

  /**
   * Selects lines of job `id`. Returns null when no tier holds the job's log. Whatever the tier, the
   * same line numbers address the same lines.
   */
  function select(id: string, query: ReadQuery): Selection | null {
    const job = deps.getJob(id);
    const kind = sourceOf(id, job);
    if (kind === "none") return null;
    const match = makeMatcher(query.filter);
    let next = query.from;
    const done = () => next;

    if (kind === "legacy") {
      // Plain text: every text line counts as a line; no line belongs to a step or stream.
      const legacyMatch = match === null ? null : () => false;
      return withSource("legacy", lines(fileChunks(store.legacyPath(id), 0, undefined)), 0, legacyMatch);
    }
    if (kind === "archive") {
      return withSource("archive", lines(deps.archive!.open(job!)), 0, match);
    }

    const path = store.jsonlPath(id);
    const end = job ? job.byte_count : undefined; // bytes past the recorded end are not committed
    const total = job ? job.line_count : null;
    if (query.tail !== undefined && total !== null) {
      if (match === null) {
        // Whole-log tail: a cursor read from total - tail through the sparse index.
        return forwardLocal({ ...query, from: Math.max(query.from, total - query.tail), limit: query.tail });
      }
      const batch = selectTailBackward(path, end!, total, query.tail, query.from, match);
      next = Math.max(total, query.from);
      return { source: "local", batches: once(batch), next: done };
    }
    return forwardLocal(query);

    function forwardLocal(q: ReadQuery): Selection {
      const cp = job ? deps.checkpoint(id, q.from) : { line: 0, offset: 0 };
      const gen = selectForward(lines(fileChunks(path, cp.offset, end)), {
        from: q.from,
        limit: q.limit,
        startLine: cp.line,
        match,
      });
      return { source: "local", batches: drain(gen, (n) => (next = n)), next: done };
    }

    function withSource(
      source: "legacy" | "archive",
      src: AsyncIterable<string[]>,
      startLine: number,
      m: ((t: string) => boolean) | null,
    ): Selection {
      if (query.tail !== undefined) {
        const tail = query.tail;
        const batches = (async function* () {
          const r = await selectTailForward(src, { from: query.from, startLine, match: m, tail });
          next = r.next;
          yield r.batch;
        })();
        return { source, batches, next: done };
      }
      const gen = selectForward(src, { from: query.from, limit: query.limit, startLine, match: m });
      return { source, batches: drain(gen, (n) => (next = n)), next: done };
    }
  }

  return {
    select,
    sourceOf,
    /** True when nothing more will be appended: the job is terminal and settled (or its archive verified). */
    isFinal(job: JobRow | null): boolean {
      if (!job) return false;
      return job.settled_at !== null || (deps.archive?.verified(job) ?? false);
    },
  };
}

function lines(chunks: AsyncIterable<Uint8Array>): AsyncIterable<string[]> {
  return splitLines(chunks);
}

async function* once(batch: Batch): AsyncGenerator<Batch> {
  yield batch;
}

/** Re-yields a generator's values and hands its return value to `onReturn`. */
async function* drain(
  gen: AsyncGenerator<Batch, number>,
  onReturn: (n: number) => void,
): AsyncGenerator<Batch> {
  for (;;) {
    const r = await gen.next();
    if (r.done) {
      onReturn(r.value);
      return;
    }
    yield r.value;
  }
}

export function archiveUnreadable(id: string, reason: string): AppError {
  return new AppError(502, "archive_unreadable", `archive of job ${id} could not be read: ${reason}`);
}
