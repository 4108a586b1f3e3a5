// The on-disk spool of one (job, step): segment files of line records, the delivered position, the batch in flight.

import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmdirSync,
  rmSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { acquireLock } from "./lock.ts";
import {
  type Batch,
  type BatchRange,
  type DropCause,
  type DropReport,
  loadState,
  type State,
  syncData,
  writeState,
  writeStateAsync,
} from "./spool-state.ts";

/**
 * Layout of `{root}/{job}/{step hash}/`:
 * - `seg-NNNNNNNNNNNN`: records, one JSON line object `{"ts","stream","line"}` per text line, append-only.
 *   A new segment starts past `segmentBytes`; a segment is deleted once every record in it is delivered.
 * - `state`: the delivered position (`seg`, `off`) and the `pending` batch — its range and idempotency key,
 *   written and fsynced *before* the batch is sent, so a restarted shipper re-sends exactly the same bytes
 *   under the same key and the server answers `duplicate` if it had written them. A batch whose record fails
 *   is not sent (SpoolStateError). Rewritten in place (spool-state.ts): recording needs no free space.
 * - `dropped`: how many lines were refused (the spool full, or its disk): the server is told once it answers,
 *   each loss once — a report is recorded in `state` (`from`, `to`) before it is sent, keyed by the spool's id.
 * - `lock`: flock(2)ed by the shipper using this spool (released by the kernel when it dies); holds its pid.
 *
 * Durability: records are written with one write(2) per chunk read from the command, so a `kill -9` of the
 * shipper loses nothing it had read; they are fsynced only when a batch is cut from them (once per batch,
 * not per line), which is what exactly-once needs across a power loss.
 */
export type { Batch, BatchRange, DropCause, DropReport } from "./spool-state.ts";

export interface SpoolOptions {
  dir: string;
  /** Bound on the bytes not yet delivered; records past it are dropped and counted. */
  maxBytes: number;
  segmentBytes?: number;
  /** fsync a batch's records and intent before it is sent (on by default; off only to measure the cost). */
  fsync?: boolean;
}

export type Spool = ReturnType<typeof openSpool>;

export { SpoolBusyError } from "./lock.ts";

/** The spool could not record a batch before sending it: nothing may be sent until it can. */
export class SpoolStateError extends Error {
  override name = "SpoolStateError";
}

const SEGMENT = /^seg-(\d{12})$/;
const segName = (n: number) => `seg-${String(n).padStart(12, "0")}`;
const encoder = new TextEncoder();

/** The spool directory of one job and step under `root` (step names may hold any character: hashed). */
export function spoolDirOf(root: string, job: string, step: string): string {
  const hash = createHash("sha256").update(step).digest("hex").slice(0, 24);
  return join(root, job, `step-${hash}`);
}

export function openSpool(opts: SpoolOptions) {
  const { dir } = opts;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = acquireLock(join(dir, "lock"));
  try {
    return openLocked(dir, opts, lock.release);
  } catch (e) {
    lock.release();
    throw e;
  }
}

function openLocked(dir: string, opts: SpoolOptions, unlock: () => void) {
  const { maxBytes } = opts;
  const segmentBytes = opts.segmentBytes ?? 8 * 1024 * 1024;
  const sync = opts.fsync ?? true;
  const statePath = join(dir, "state");
  const loaded = loadState(statePath, sync);
  let seq = loaded.seq;
  const state: State = loaded.state;
  // Segment number → size in bytes, oldest first; the last one is the one written to.
  const segs = new Map<number, number>();
  for (const n of listSegments(dir)) {
    if (n < state.seg) unlinkSync(join(dir, segName(n)));
    else segs.set(n, fstatSizeOf(join(dir, segName(n))));
  }
  if (segs.size === 0) segs.set(Math.max(state.seg, 1), 0);
  const first = Math.min(...segs.keys());
  if (first !== state.seg) {
    state.seg = first;
    state.off = 0;
  }
  let writer = Math.max(...segs.keys());
  segs.set(writer, repairTail(join(dir, segName(writer))));
  if (state.pending && (!segs.has(state.pending.seg) || state.pending.end > segs.get(state.pending.seg)!)) {
    state.pending = null; // its records are gone (the spool was tampered with): nothing to re-send
  }
  state.off = Math.min(state.off, segs.get(state.seg)!);
  let fd = openSync(join(dir, segName(writer)), "a", 0o600);

  let unsentBytes = 0;
  for (const [n, size] of segs) unsentBytes += n === state.seg ? size - state.off : size;
  let unsentLines = countLines(dir, segs, state.seg, state.off);

  const droppedPath = join(dir, "dropped");
  // The count on disk is best effort (a full disk may refuse it): never behind what was reported.
  let dropped = Math.max(
    existsSync(droppedPath) ? Number(readFileSync(droppedPath, "utf8").trim()) || 0 : 0,
    state.reported,
    state.report?.to ?? 0,
  );
  // What dropped lines since the last report was made, and in this process at all.
  const causes = new Set<DropCause>();
  const seen = new Set<DropCause>();
  let droppedFd: number | null = null;
  try {
    // Made now, while there is room: counting a drop later (the disk full) then rewrites it in place.
    droppedFd = openSync(droppedPath, "r+");
  } catch {
    try {
      droppedFd = openSync(droppedPath, "w", 0o600);
      writeSync(droppedFd, dropCount(dropped), 0);
    } catch {}
  }

  /** Throws when the state cannot be written; the memory state is then ahead of the file. */
  function persist(durable: boolean): void {
    writeState(statePath, seq + 1, state, durable && sync);
    seq++;
  }

  /**
   * For records that only move the file forward (a batch settled): should one be lost, the file still names
   * an earlier batch, which a restarted shipper re-sends under its key and the server answers `duplicate`.
   */
  function persistLater(): void {
    try {
      persist(false);
    } catch {}
  }

  function rotate(): void {
    if (sync) fsyncSync(fd);
    const next = openSync(join(dir, segName(writer + 1)), "a", 0o600);
    closeSync(fd);
    fd = next;
    writer++;
    segs.set(writer, 0);
  }

  /** Counts refused lines; the count on disk is best effort (the disk may be what refused them). */
  function countDropped(n: number, cause: DropCause): void {
    if (n === 0) return;
    dropped += n;
    causes.add(cause);
    seen.add(cause);
    try {
      droppedFd ??= openSync(droppedPath, "w", 0o600);
      // Fixed width, rewritten in place: one small write per refused chunk, never a torn number.
      writeSync(droppedFd, dropCount(dropped), 0);
    } catch {}
  }

  /** Position after the pending batch (or the delivered position): where the next batch starts. */
  function nextStart(): { seg: number; off: number } {
    const p = state.pending;
    return p ? { seg: p.seg, off: p.end } : { seg: state.seg, off: state.off };
  }

  function readRange(seg: number, start: number, end: number): Uint8Array {
    const buf = new Uint8Array(end - start);
    const rfd = openSync(join(dir, segName(seg)), "r");
    try {
      let got = 0;
      while (got < buf.length) {
        const n = readSync(rfd, buf, got, buf.length - got, start + got);
        if (n === 0) throw new Error(`spool segment ${segName(seg)} in ${dir} is shorter than expected`);
        got += n;
      }
    } finally {
      closeSync(rfd);
    }
    return buf;
  }

  return {
    dir,
    get unsentBytes() {
      return unsentBytes;
    },
    get unsentLines() {
      return unsentLines;
    },
    /** Bytes spooled after the pending batch: what the next batch can take. */
    get queuedBytes() {
      const p = state.pending;
      return p ? unsentBytes - (p.end - p.start) : unsentBytes;
    },
    get pending(): Batch | null {
      return state.pending;
    },
    get dropped() {
      return dropped;
    },
    get reported() {
      return state.reported;
    },
    /** What dropped lines while this process had the spool open. */
    get dropCauses(): ReadonlySet<DropCause> {
      return seen;
    },
    /** This spool's id, made with it and kept across restarts. */
    get id() {
      return state.id;
    },

    /**
     * Appends encoded records (no newline) in order; once one does not fit under `maxBytes`, it and the
     * rest are refused and counted as dropped — the oldest unsent data is kept. Returns how many were kept.
     */
    append(records: readonly string[]): number {
      if (records.length === 0) return 0;
      let text = `${records.join("\n")}\n`;
      let data = encoder.encode(text);
      let kept = records.length;
      if (unsentBytes + data.length > maxBytes) {
        let room = maxBytes - unsentBytes;
        kept = 0;
        for (const r of records) {
          const size = Buffer.byteLength(r) + 1;
          if (size > room) break;
          room -= size;
          kept++;
        }
        if (kept < records.length) countDropped(records.length - kept, "spool-max");
        if (kept === 0) return 0;
        text = `${records.slice(0, kept).join("\n")}\n`;
        data = encoder.encode(text);
      }
      if (segs.get(writer)! >= segmentBytes) rotate();
      const before = segs.get(writer)!;
      let done = 0;
      try {
        while (done < data.length) done += writeSync(fd, data, done, data.length - done);
      } catch (e) {
        // Disk full or similar: the whole records that reached the file are kept; a torn one is cut off,
        // as it would corrupt every later one.
        const whole = data.subarray(0, done).lastIndexOf(10) + 1;
        if (done > whole) ftruncateSync(fd, before + whole);
        const wrote = countNewlines(data.subarray(0, whole));
        segs.set(writer, before + whole);
        unsentBytes += whole;
        unsentLines += wrote;
        countDropped(kept - wrote, "disk");
        throw new Error(
          `spool write to ${dir} failed, ${kept - wrote} lines dropped: ${(e as Error).message}`,
        );
      }
      segs.set(writer, before + data.length);
      unsentBytes += data.length;
      unsentLines += kept;
      return kept;
    },

    /**
     * Cuts the next batch — whole records, at most `maxBytes` (one record more when a single record is
     * larger), never across segments — and returns its range and bytes; null when nothing is queued.
     */
    cut(maxBytes: number): { range: BatchRange; bytes: Uint8Array } | null {
      if (state.pending) throw new Error("spool: a batch is already pending");
      let { seg, off } = nextStart();
      while (off === segs.get(seg)! && seg < writer) {
        unlinkSync(join(dir, segName(seg)));
        segs.delete(seg);
        seg = Math.min(...[...segs.keys()].filter((n) => n > seg));
        off = 0;
        state.seg = seg;
        state.off = 0;
      }
      const size = segs.get(seg)!;
      if (off === size) return null;
      let bytes = readRange(seg, off, Math.min(size, off + maxBytes));
      let cut = bytes.lastIndexOf(10);
      if (cut === -1) {
        // One record larger than the cap: take it whole; the sender decides what the server makes of it.
        const whole = readRange(seg, off, size);
        cut = whole.indexOf(10);
        bytes = whole;
      }
      bytes = bytes.subarray(0, cut + 1);
      return { range: { seg, start: off, end: off + bytes.length, lines: countNewlines(bytes) }, bytes };
    },

    /**
     * Records the batch and its key durably, before it is sent; throws SpoolStateError when it cannot, and
     * the batch must then not be sent (a crash would lose its key, and its lines be sent again under another).
     */
    begin(range: BatchRange, key: string): Batch {
      const batch = { ...range, key };
      state.pending = batch;
      try {
        // fdatasync: the records and the file's size, not its times (a third to a half cheaper here).
        if (sync && range.seg === writer) fdatasyncSync(fd);
        persist(true);
      } catch (e) {
        state.pending = null;
        throw new SpoolStateError(
          `cannot record the next batch in the spool state ${statePath}: ${(e as Error).message}`,
        );
      }
      return batch;
    },

    /**
     * `begin` with the two syncs (the records, the state) run side by side off the JavaScript thread: the
     * batch is just as durable before it is sent, and the wait is the slower sync instead of both in a row.
     * Both must have completed before the batch may be sent; their order does not matter, as a state whose
     * records did not survive names a range past the segment's end, which `openSpool` discards.
     */
    async record(range: BatchRange, key: string): Promise<Batch> {
      const batch = { ...range, key };
      state.pending = batch;
      try {
        if (!sync) persist(false);
        else {
          // Its own descriptor: a rotation may close `fd` while the sync still runs.
          const records = range.seg === writer ? openSync(join(dir, segName(range.seg)), "r") : null;
          try {
            await Promise.all([
              records === null ? null : syncData(records),
              writeStateAsync(statePath, seq + 1, state),
            ]);
          } finally {
            if (records !== null) closeSync(records);
          }
          seq++;
        }
      } catch (e) {
        state.pending = null;
        throw new SpoolStateError(
          `cannot record the next batch in the spool state ${statePath}: ${(e as Error).message}`,
        );
      }
      return batch;
    },

    /** The bytes of the pending batch (a restarted shipper re-sends them as they were). */
    read(batch: BatchRange): Uint8Array {
      return readRange(batch.seg, batch.start, batch.end);
    },

    /**
     * The server has the pending batch (or refused it for good): forget it. Not fsynced: should this
     * write be lost, the batch is re-sent under the same key and the server answers `duplicate`.
     */
    settle(): void {
      const p = state.pending;
      if (!p) return;
      state.seg = p.seg;
      state.off = p.end;
      state.pending = null;
      unsentBytes -= p.end - p.start;
      unsentLines -= p.lines;
      persistLater();
    },

    /** The pending batch was not written (413): forget its range so that a smaller one is cut. */
    abandon(): void {
      state.pending = null;
      persistLater(); // should it be lost, the batch is re-sent, refused again and abandoned again
    },

    /**
     * The loss report to send: the one recorded earlier and not yet answered, else a new one for the lines
     * dropped since the last, recorded durably first; null when there is nothing to report. Throws
     * SpoolStateError when it cannot be recorded (it must then not be sent).
     */
    beginReport(): DropReport | null {
      if (state.report) return state.report;
      if (dropped <= state.reported) return null;
      state.report = { from: state.reported, to: dropped, causes: [...causes].sort() };
      try {
        persist(true);
      } catch (e) {
        state.report = null;
        throw new SpoolStateError(
          `cannot record the loss report in the spool state ${statePath}: ${(e as Error).message}`,
        );
      }
      causes.clear();
      return state.report;
    },

    /** The server has the loss report (or refused it for good). */
    settleReport(): void {
      if (!state.report) return;
      state.reported = state.report.to;
      state.report = null;
      persistLater(); // should it be lost, the report is re-sent under its key and answered `duplicate`
    },

    /** Closes the files and releases the lock; removes the directory once nothing is left in it to do. */
    close(): void {
      closeSync(fd);
      if (droppedFd !== null) closeSync(droppedFd);
      const empty =
        unsentBytes === 0 && state.pending === null && state.report === null && dropped <= state.reported;
      // Removed while still locked: a shipper waiting on the old lock file sees it gone and starts afresh.
      if (empty) rmSync(dir, { recursive: true, force: true });
      unlock();
      if (empty) {
        try {
          rmdirSync(dirname(dir)); // the job's folder, when no other step of it is spooled
        } catch {}
      }
    },
  };
}

function listSegments(dir: string): number[] {
  return readdirSync(dir)
    .map((name) => SEGMENT.exec(name))
    .filter((m) => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

function fstatSizeOf(path: string): number {
  const fd = openSync(path, "r");
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

/** Cuts a record torn by a crash mid-write off the end of the last segment; returns the new size. */
function repairTail(path: string): number {
  if (!existsSync(path)) return 0;
  const fd = openSync(path, "r+");
  try {
    const size = fstatSync(fd).size;
    const buf = new Uint8Array(64 * 1024);
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - buf.length);
      const n = readSync(fd, buf, 0, end - start, start);
      const nl = buf.subarray(0, n).lastIndexOf(10);
      if (nl !== -1) {
        const good = start + nl + 1;
        if (good < size) ftruncateSync(fd, good);
        return good;
      }
      end = start;
    }
    if (size > 0) ftruncateSync(fd, 0);
    return 0;
  } finally {
    closeSync(fd);
  }
}

function countLines(dir: string, segs: Map<number, number>, seg: number, off: number): number {
  let lines = 0;
  const buf = new Uint8Array(1 << 20);
  for (const [n, size] of segs) {
    let pos = n === seg ? off : 0;
    if (pos >= size) continue;
    const fd = openSync(join(dir, segName(n)), "r");
    try {
      while (pos < size) {
        const got = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
        if (got === 0) break;
        lines += countNewlines(buf.subarray(0, got));
        pos += got;
      }
    } finally {
      closeSync(fd);
    }
  }
  return lines;
}

function countNewlines(bytes: Uint8Array): number {
  let n = 0;
  let i = bytes.indexOf(10);
  while (i !== -1) {
    n++;
    i = bytes.indexOf(10, i + 1);
  }
  return n;
}

const dropCount = (n: number): string => `${String(n).padStart(20, "0")}\n`;
