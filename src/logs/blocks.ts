// Raw bytes of a job's log in blocks of whole lines, whatever the tier: what search and the steps summary scan.
import { closeSync, openSync, readSync } from "node:fs";
import { basename } from "node:path";
import type { Job as JobRow } from "../core/job.ts";
import { AppError } from "../errors.ts";
import type { ArchiveTier, Reader } from "./read.ts";
import type { LogStore } from "./store.ts";

/** Bytes [0, end) of `buf` are whole lines (the log's last line may lack its newline); `buf[0]` is at `offset`. */
export interface LineBlock {
  buf: Buffer;
  end: number;
  offset: number;
}

/** One tier's log, as raw bytes. */
export interface RawLog {
  source: "local" | "legacy" | "archive";
  job: JobRow | null;
  /** A local log with a job row: lines can be located by the sparse index, reads can start at an offset. */
  indexed: boolean;
  /** Committed line count when known up front (an indexed log). */
  lines: number | null;
  /** Blocks of whole lines from byte `offset` (only an indexed log starts anywhere but 0). */
  blocks(offset: number): AsyncGenerator<LineBlock>;
  /** Bytes [start, end) of an indexed log. */
  bytes(start: number, end: number): Buffer;
}

export interface RawDeps {
  store: Pick<LogStore, "jsonlPath" | "legacyPath">;
  getJob: (id: string) => Promise<JobRow | null>;
  sourceOf: Reader["sourceOf"];
  archive?: ArchiveTier | undefined;
}

export const BLOCK_BYTES = 1024 * 1024;

/** The log of job `id` as the reader would serve it now; null when no tier holds it. */
export async function openRaw(deps: RawDeps, id: string): Promise<RawLog | null> {
  const job = await deps.getJob(id);
  const kind = await deps.sourceOf(id, job);
  if (kind === "none") return null;
  if (kind === "archive") {
    const archive = deps.archive!;
    return {
      source: kind,
      job,
      indexed: false,
      lines: null,
      blocks: () => lineBlocks(pullChunks(archive.open(job!)), 0),
      bytes: () => Buffer.alloc(0),
    };
  }
  const path = kind === "legacy" ? deps.store.legacyPath(id) : deps.store.jsonlPath(id);
  // Bytes past the recorded end are not committed; a file without a row is read to its end.
  const end = kind === "local" && job ? job.byte_count : undefined;
  return {
    source: kind,
    job,
    indexed: kind === "local" && job !== null,
    lines: kind === "local" && job ? job.line_count : null,
    blocks: (offset) => lineBlocks(pullFile(path, offset, end), offset),
    bytes(start, stop) {
      const fd = openLog(path);
      try {
        const buf = Buffer.allocUnsafe(Math.max(0, stop - start));
        let got = 0;
        while (got < buf.length) {
          const n = readSync(fd, buf, got, buf.length - got, start + got);
          if (n === 0) break;
          got += n;
        }
        return buf.subarray(0, got);
      } finally {
        closeSync(fd);
      }
    },
  };
}

/** Fills `buf` from `at`; returns the bytes added, 0 at the end. */
type Pull = ((buf: Buffer, at: number) => Promise<number> | number) & { close(): void };

function openLog(path: string): number {
  try {
    return openSync(path, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    throw new AppError(
      503,
      "log_moved",
      `the log file ${basename(path)} was removed while being read; retry`,
      {
        "Retry-After": "1",
      },
    );
  }
}

function pullFile(path: string, start: number, end: number | undefined): Pull {
  let fd: number | null = null;
  let pos = start;
  const pull = (buf: Buffer, at: number): number => {
    fd ??= openLog(path);
    const want = end === undefined ? buf.length - at : Math.min(buf.length - at, end - pos);
    if (want <= 0) return 0;
    const n = readSync(fd, buf, at, want, pos);
    pos += n;
    return n;
  };
  return Object.assign(pull, {
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  });
}

function pullChunks(chunks: AsyncIterable<Uint8Array>): Pull {
  const it = chunks[Symbol.asyncIterator]();
  let rest: Uint8Array | null = null;
  const pull = async (buf: Buffer, at: number): Promise<number> => {
    if (rest === null || rest.length === 0) {
      const r = await it.next();
      if (r.done) return 0;
      rest = r.value;
    }
    const n = Math.min(rest.length, buf.length - at);
    buf.set(rest.subarray(0, n), at);
    rest = rest.subarray(n);
    return n;
  };
  return Object.assign(pull, {
    close() {
      void it.return?.();
    },
  });
}

/**
 * Blocks of whole lines read into one reused buffer (each block is valid until the next is asked for):
 * the bytes after the last newline move to the front and the next read lands behind them. A line longer
 * than the buffer grows it.
 */
async function* lineBlocks(pull: Pull, offset: number): AsyncGenerator<LineBlock> {
  let buf = Buffer.allocUnsafe(BLOCK_BYTES);
  let have = 0;
  let at = offset;
  try {
    for (;;) {
      if (have === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, have);
        buf = bigger;
      }
      const n = await pull(buf, have);
      if (n === 0) {
        if (have > 0) yield { buf, end: have, offset: at };
        return;
      }
      have += n;
      const last = buf.lastIndexOf(10, have - 1);
      if (last === -1) continue;
      const end = last + 1;
      yield { buf, end, offset: at };
      buf.copy(buf, 0, end, have);
      have -= end;
      at += end;
    }
  } finally {
    pull.close();
  }
}

/** Newlines in `buf[start, end)`. */
export function countNewlines(buf: Buffer, start: number, end: number): number {
  const part = buf.subarray(start, end);
  let n = 0;
  for (let i = part.indexOf(10); i !== -1; i = part.indexOf(10, i + 1)) n++;
  return n;
}

/**
 * A scan over local blocks never waits on I/O (reads are synchronous): without a pause it would hold the
 * event loop — every push and read of the server — for its whole length. This yields a turn every `ms`.
 */
export function breather(ms = 20): () => Promise<void> | undefined {
  let last = performance.now();
  return () => {
    const now = performance.now();
    if (now - last < ms) return undefined;
    last = now;
    return new Promise<void>((resolve) => setImmediate(resolve));
  };
}
