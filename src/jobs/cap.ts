// The per-job size cap: past half of max_job_bytes new lines go to a rolling window (two segment files),
// batches split at line boundaries; when the job ends, an elision event and the window are appended, so the
// end of a runaway log survives and the log ends within one line of the cap.
import { existsSync } from "node:fs";
import type { Job } from "../core/job.ts";
import { AppError } from "../errors.ts";
import type { LogStore } from "../logs/store.ts";
import type { CapsRepository, CapWindow } from "../state/types.ts";

export type Seg = 0 | 1;

/** How a release adds to the log: each call one commit, with the window's progress in it. */
export interface ReleasePort {
  /** A server event; `window`, when given, commits with it. */
  event(message: string, window?: CapWindow): Promise<void>;
  /** Lines of the window, moved into the log with `window` (its progress) in the same commit. */
  append(text: string, lines: number, window: CapWindow): Promise<void>;
}

export type Cap = ReturnType<typeof createCap>;

/** Segment files are named `~ring<N>~<job>`: never a valid job id, so never served or clobbered as one. */
const segment = (id: string, n: Seg) => `~ring${n}~${id}`;
const bytesOf = (r: CapWindow, n: Seg) => (n === 0 ? r.seg0_bytes : r.seg1_bytes);
const linesOf = (r: CapWindow, n: Seg) => (n === 0 ? r.seg0_lines : r.seg1_lines);
const releasedOf = (r: CapWindow, n: Seg) => (n === 0 ? r.rel0 : r.rel1);

function setSegment(r: CapWindow, n: Seg, bytes: number, lines: number): void {
  if (n === 0) [r.seg0_bytes, r.seg0_lines] = [bytes, lines];
  else [r.seg1_bytes, r.seg1_lines] = [bytes, lines];
}

const CHUNK = 4 * 1024 * 1024;

/** Byte offset just past each line of an encoded batch. */
export function lineEnds(data: Uint8Array): number[] {
  const ends: number[] = [];
  for (let i = data.indexOf(10); i !== -1; i = data.indexOf(10, i + 1)) ends.push(i + 1);
  return ends;
}

export interface WindowPlan {
  /** Segments whose recorded lines the batch elides whole: emptied before anything is written. */
  emptied: Seg[];
  /** Byte ranges of the batch appended to a segment at `at`, its recorded size once emptied. */
  writes: Array<{ n: Seg; start: number; end: number; at: number }>;
  /** The window once the batch is in it. */
  row: CapWindow;
}

/**
 * Where a batch's lines land in the window, line by line: a segment takes lines while they fit under
 * `segmentLimit`; the next line starts the other segment, whose lines (older ones, or earlier ones of this
 * batch) are elided. A line larger than a segment sits alone in one, and two such lines together larger
 * than the window are not both kept — so the window never exceeds two segments by more than one line.
 * Lines elided within the batch are counted, never written. Pure: the same window and batch give the same
 * plan.
 */
export function planWindow(start: CapWindow, ends: readonly number[], segmentLimit: number): WindowPlan {
  const windowLimit = 2 * segmentLimit;
  const row = { ...start };
  // Each segment's share of the batch is one run of lines [from, to): lines go in order.
  const from = [0, 0];
  const to = [0, 0];
  const emptied = new Set<Seg>();
  const lineStart = (i: number) => (i === 0 ? 0 : ends[i - 1]!);
  const batchBytes = (n: Seg) => (from[n] === to[n] ? 0 : ends[to[n]! - 1]! - lineStart(from[n]!));
  const size = (n: Seg) => bytesOf(row, n) + batchBytes(n);
  const elide = (n: Seg, next: number) => {
    row.elided_bytes += size(n);
    row.elided_lines += linesOf(row, n) + to[n]! - from[n]!;
    if (bytesOf(row, n) > 0) emptied.add(n);
    setSegment(row, n, 0, 0);
    from[n] = to[n] = next;
  };
  let cur = row.cur as Seg;
  for (let i = 0; i < ends.length; i++) {
    const len = ends[i]! - lineStart(i);
    if (size(cur) > 0 && size(cur) + len > segmentLimit) {
      cur = cur === 0 ? 1 : 0;
      elide(cur, i);
    }
    if (from[cur] === to[cur]) from[cur] = i;
    to[cur] = i + 1;
    const older: Seg = cur === 0 ? 1 : 0;
    if (len > segmentLimit && size(older) > segmentLimit && size(older) + len > windowLimit) {
      elide(older, i + 1);
    }
  }
  row.cur = cur;
  const writes: WindowPlan["writes"] = [];
  for (const n of [0, 1] as const) {
    if (from[n] === to[n]) continue;
    const at = bytesOf(row, n);
    writes.push({ n, start: lineStart(from[n]!), end: ends[to[n]! - 1]!, at });
    setSegment(row, n, at + batchBytes(n), linesOf(row, n) + to[n]! - from[n]!);
  }
  return { emptied: [...emptied], writes, row };
}

export interface CapOptions {
  caps: CapsRepository;
  store: LogStore;
  maxJobBytes: number;
  /** The jobs that had a window when the process started (`caps.ids()`). */
  known: readonly string[];
}

export function createCap(opts: CapOptions) {
  const { caps, store, maxJobBytes } = opts;
  const headLimit = Math.floor(maxJobBytes / 2);
  const segmentLimit = Math.max(1, Math.floor(maxJobBytes / 4));
  // Every job that may have a window (a superset: an id is added before its row commits, removed after
  // its row is dropped): most pushes are far from any cap and are answered without a query.
  const windows = new Set(opts.known);
  const hasWindow = async (id: string) => windows.has(id) && (await caps.get(id)) !== null;
  /** Releases run one at a time: each holds a few chunks of memory, and many can resume at start-up. */
  let releasing: Promise<unknown> = Promise.resolve();

  return {
    headLimit,
    maxJobBytes,
    /** Whether the job may have a window: false means it has none, without asking the state. */
    mayHave: (id: string): boolean => windows.has(id),
    /** A late push to an ended job: refused while its window is being appended, and past the cap. */
    async checkLate(job: Job, bytes: number): Promise<void> {
      if (await hasWindow(job.id)) {
        throw new AppError(
          503,
          "finishing",
          `job ${job.id} is still appending the window of its size-capped log; retry shortly`,
          { "Retry-After": "1" },
        );
      }
      if (job.byte_count + bytes > maxJobBytes) {
        throw new AppError(
          413,
          "job_too_large",
          `job ${job.id} already holds ${job.byte_count} bytes; a late push of ${bytes} bytes exceeds limits.max_job_bytes ${maxJobBytes}`,
        );
      }
    },
    /** Whether the job has a window (it hit the cap); the first hold makes one. */
    started: hasWindow,
    /**
     * How many of a batch's first lines still go to the log: those that fit under the head limit, none
     * once the window has started (a later line must never land before a held one).
     */
    async headLines(job: Job, ends: readonly number[]): Promise<number> {
      if (job.byte_count >= headLimit || (await hasWindow(job.id))) return 0;
      let n = 0;
      while (n < ends.length && job.byte_count + ends[n]! <= headLimit) n++;
      return n;
    },
    /**
     * Writes a batch's share of the window to the segment files and returns the window that records it: the
     * caller commits it with the batch (its key, the head part), so a batch is held whole or not at all. Until
     * then the files hold bytes past their recorded ends, which no read serves and the next write cuts; a retry
     * of an uncommitted batch therefore lands as if it were the first try.
     */
    async hold(job: Job, data: Uint8Array, ends: readonly number[] = lineEnds(data)): Promise<CapWindow> {
      const row = (await caps.get(job.id)) ?? emptyRow(job.id);
      const plan = planWindow(row, ends, segmentLimit);
      windows.add(job.id);
      if (plan.emptied.length > 0) {
        // Segments whose recorded lines the batch elides are emptied first, committed before their files
        // are removed: a crash in between leaves a file longer than recorded (cut on reopen), never a
        // recorded segment without its file. This commit holds none of the batch's lines, so a retry
        // after it writes each of them once.
        const emptied = { ...row };
        for (const n of plan.emptied) {
          emptied.elided_bytes += bytesOf(emptied, n);
          emptied.elided_lines += linesOf(emptied, n);
          setSegment(emptied, n, 0, 0);
        }
        await caps.put(emptied);
        for (const n of plan.emptied) store.remove(segment(job.id, n));
      }
      for (const w of plan.writes) store.append(segment(job.id, w.n), data.subarray(w.start, w.end), w.at);
      return plan.row;
    },
    /**
     * Moves the window into the log when the job ends: an elision event (when anything was dropped), then
     * the surviving lines, oldest first, in ~4 MiB chunks. Each chunk commits with its progress, so a crash
     * mid-way resumes where it stopped — nothing twice, nothing lost. Returns what was elided.
     */
    release(id: string, port: ReleasePort): Promise<{ elided_lines: number; elided_bytes: number }> {
      const run = releasing.then(() => releaseOne(id, port));
      releasing = run.catch(() => {});
      return run;
    },
  };

  async function releaseOne(
    id: string,
    port: ReleasePort,
  ): Promise<{ elided_lines: number; elided_bytes: number }> {
    const row = await caps.get(id);
    if (!row) return { elided_lines: 0, elided_bytes: 0 };
    if (!row.event_done) {
      const done = { ...row, event_done: 1 };
      if (row.elided_lines > 0) {
        const kept = row.seg0_lines + row.seg1_lines;
        await port.event(
          `[limits] log exceeded limits.max_job_bytes ${maxJobBytes}: elided ${row.elided_lines} lines ` +
            `(${row.elided_bytes} bytes) here; the last ${kept} lines follow`,
          done,
        );
      } else await caps.put(done);
      row.event_done = 1;
    }
    const order: Seg[] = row.cur === 0 ? [1, 0] : [0, 1];
    for (const n of order) {
      const name = segment(id, n);
      const size = bytesOf(row, n);
      let pos = releasedOf(row, n);
      store.close(name);
      if (pos < size && !existsSync(store.jsonlPath(name))) {
        await port.event(
          `[limits] ${size - pos} bytes of the size-cap window were missing on disk and could not be added`,
        );
        pos = size;
      }
      const file = Bun.file(store.jsonlPath(name));
      // `pos` is always a line start (what is committed); `carry` holds a line longer than a read so far
      // (a 1 MiB line of control characters is ~6 MiB once JSON-escaped).
      let readPos = pos;
      let carry: Uint8Array = new Uint8Array(0);
      while (readPos < size) {
        const bytes = await file.slice(readPos, Math.min(size, readPos + CHUNK)).bytes();
        if (bytes.length === 0) break;
        readPos += bytes.length;
        const data = carry.length > 0 ? Buffer.concat([carry, bytes]) : bytes;
        const end = data.lastIndexOf(10) + 1;
        carry = data.subarray(end);
        if (end === 0) continue;
        const chunk = data.subarray(0, end);
        let lines = 0;
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
        pos += end;
        const progress = n === 0 ? { ...row, rel0: pos } : { ...row, rel1: pos };
        await port.append(Buffer.from(chunk).toString("utf8"), lines, progress);
        if (n === 0) row.rel0 = pos;
        else row.rel1 = pos;
      }
      if (pos < size) {
        // Only a segment cut short on disk ends without a newline: say so rather than drop it quietly.
        await port.event(
          `[limits] ${size - pos} bytes at the end of the size-cap window were unreadable and not added`,
        );
      }
      store.remove(name);
    }
    await caps.drop(id);
    windows.delete(id);
    return { elided_lines: row.elided_lines, elided_bytes: row.elided_bytes };
  }
}

function emptyRow(job_id: string): CapWindow {
  return {
    job_id,
    cur: 0,
    seg0_bytes: 0,
    seg0_lines: 0,
    seg1_bytes: 0,
    seg1_lines: 0,
    rel0: 0,
    rel1: 0,
    elided_lines: 0,
    elided_bytes: 0,
    event_done: 0,
  };
}
