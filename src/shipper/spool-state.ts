// The spool's `state` file: two fixed-size checksummed slots rewritten in place, so recording needs no free space.
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  fdatasync,
  fdatasyncSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";

export interface BatchRange {
  seg: number;
  start: number;
  end: number;
  lines: number;
}

export interface Batch extends BatchRange {
  key: string;
}

/** Why lines were dropped: the spool reached its bound, or the disk refused the write. */
export type DropCause = "spool-max" | "disk";

/** A loss report being sent: lines `from` (the count reported before it) to `to` of the drop count. */
export interface DropReport {
  from: number;
  to: number;
  /** What dropped them, as far as the shipper that counted them knows ([] when it was an earlier one). */
  causes: DropCause[];
}

export interface State {
  /** This spool's own id (random, made with it): with `from`, the key of a loss report. */
  id: string;
  /** Delivered position: every record before (`seg`, `off`) reached the server. */
  seg: number;
  off: number;
  /** The batch being sent, recorded before it is sent. */
  pending: Batch | null;
  /** Dropped lines already reported to the server. */
  reported: number;
  /** The loss report being sent, recorded before it is sent (so a retry after a crash sends the same one). */
  report: DropReport | null;
}

/**
 * Why slots and not write-then-rename: a rename needs a new file, so a full disk (the worker's disk is full
 * more often than the server's) would stop every recording and with it all delivery. Overwriting the pages
 * of a file that exists needs no free space on ext4, xfs and tmpfs. Each write goes to the older slot, so a
 * write torn by a power loss leaves the newer one intact; the checksum tells them apart.
 */
export const SLOT_BYTES = 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const freshState = (): State => ({
  id: crypto.randomUUID(),
  seg: 1,
  off: 0,
  pending: null,
  reported: 0,
  report: null,
});

/** A slot: `<16 hex of sha-256 of the JSON> <JSON>`, padded with spaces, ending in a newline. */
export function encodeSlot(seq: number, state: State): Uint8Array {
  const json = JSON.stringify({ v: 2, n: seq, ...state });
  const text = `${digest(json)} ${json}`;
  // Keys and numbers are bounded (a UUID, safe integers): a state never comes near a slot's size.
  if (text.length >= SLOT_BYTES) throw new Error(`spool state of ${text.length} bytes exceeds its slot`);
  return encoder.encode(`${text.padEnd(SLOT_BYTES - 1, " ")}\n`);
}

/** The newest intact slot of a state file's bytes, or null when none is. */
export function decodeSlots(bytes: Uint8Array): { seq: number; state: State } | null {
  let best: { seq: number; state: State } | null = null;
  for (let at = 0; at + SLOT_BYTES <= bytes.length; at += SLOT_BYTES) {
    const text = decoder.decode(bytes.subarray(at, at + SLOT_BYTES)).trimEnd();
    const space = text.indexOf(" ");
    const json = text.slice(space + 1);
    if (space !== 16 || digest(json) !== text.slice(0, 16)) continue;
    const s = parseState(json);
    if (s && (best === null || s.seq > best.seq)) best = s;
  }
  return best;
}

function parseState(json: string): { seq: number; state: State } | null {
  try {
    const s = JSON.parse(json) as State & { v: number; n: number };
    if (s.v !== 2 || !Number.isInteger(s.n) || !Number.isInteger(s.seg) || !Number.isInteger(s.off))
      return null;
    if (typeof s.id !== "string") return null;
    const state: State = {
      id: s.id,
      seg: s.seg,
      off: s.off,
      pending: s.pending ?? null,
      reported: s.reported ?? 0,
      report: s.report ?? null,
    };
    return { seq: s.n, state };
  } catch {
    return null;
  }
}

const digest = (json: string): string => createHash("sha256").update(json).digest("hex").slice(0, 16);

/**
 * Opens the state at `path`: the newest intact slot, else what an older shipper left in `state.json` beside
 * it (moved into a new file), else a fresh state. A new file is made whole (both slots) before it is used.
 */
export function loadState(path: string, sync: boolean): { seq: number; state: State } {
  if (existsSync(path)) {
    const found = decodeSlots(readFileSync(path));
    if (found) return found;
  }
  const legacy = `${dirname(path)}/state.json`;
  const state = existsSync(legacy) ? readLegacy(legacy) : freshState();
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    const slot = encodeSlot(0, state);
    writeAll(fd, slot, 0);
    writeAll(fd, slot, SLOT_BYTES);
    if (sync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  if (sync) fsyncDir(dirname(path));
  if (existsSync(legacy)) unlinkSync(legacy);
  return { seq: 0, state };
}

/** Writes `state` as number `seq` into its slot (the older one), fsynced when `durable`. */
export function writeState(path: string, seq: number, state: State, durable: boolean): void {
  const slot = encodeSlot(seq, state);
  const fd = openSync(path, "r+");
  try {
    writeAll(fd, slot, (seq % 2) * SLOT_BYTES);
    // The slot overwrites bytes the file already has: fdatasync makes them durable without the inode's times.
    if (durable) fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * `writeState` whose sync runs off the JavaScript thread, so that another file's sync can run beside it (the
 * spool syncs a batch's records and its state together: the wait is the longer of the two, not their sum).
 */
export async function writeStateAsync(path: string, seq: number, state: State): Promise<void> {
  const slot = encodeSlot(seq, state);
  const fd = openSync(path, "r+");
  try {
    writeAll(fd, slot, (seq % 2) * SLOT_BYTES);
    await syncData(fd);
  } finally {
    closeSync(fd);
  }
}

/** fdatasync(2) on the thread pool. */
export function syncData(fd: number): Promise<void> {
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  fdatasync(fd, (e) => (e ? reject(e) : resolve()));
  return promise;
}

function readLegacy(path: string): State {
  try {
    const s = JSON.parse(readFileSync(path, "utf8")) as State & { v: number };
    if (s.v !== 1 || !Number.isInteger(s.seg) || !Number.isInteger(s.off)) return freshState();
    return { ...freshState(), seg: s.seg, off: s.off, pending: s.pending ?? null, reported: s.reported ?? 0 };
  } catch {
    return freshState(); // only a torn tmp file could be unreadable, and it was never renamed over it
  }
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}

export function fsyncDir(dir: string): void {
  const dfd = openSync(dir, "r");
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
