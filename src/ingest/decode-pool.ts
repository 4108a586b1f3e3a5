// Push bodies decoded on worker threads: JSON.parse, validation, timestamp checks and the JSONL encoding were
// over half of the server thread's time under ingest; a worker does them on another core, and the server's
// thread keeps the job's turn, the append and the commit.
import { AppError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type DecodedPush, decodePush } from "./decode.ts";
import type { DecodeReply, DecodeTask } from "./decode-worker.ts";

export interface PushDecoder {
  /**
   * The body decoded without masking (the registry decodes again with the job's masker when it has one).
   * `alone`: no other push is being handled, so it is decoded here: the hop to a worker and back would only
   * add two thread wake-ups to its answer (one push in flight: 368 k lines/s decoded here, 252-278 k on a worker).
   */
  decode(body: Uint8Array, now: string, alone?: boolean): Promise<DecodedPush>;
  /** Bodies decoded so far by a worker and on the calling thread. */
  counts(): { worker: number; here: number };
  close(): void;
}

/** Below this a body is decoded in place: the hop to a worker and back costs more than the work. */
export const INLINE_BYTES = 4096;

/**
 * Bodies a worker holds at most. The rest wait in one backlog that both threads take from: a worker when it
 * answers, the server's thread one body per turn of its event loop (after the I/O that turn brought).
 */
export const MAX_QUEUE = 2;

/**
 * In a compiled binary the worker is an entry point of its own at `ingest/decode-worker.ts` under the bundle's
 * root (see scripts/build.ts); from source it sits beside this file.
 */
function workerUrl(): string {
  return import.meta.url.includes("$bunfs")
    ? "./ingest/decode-worker.ts"
    : new URL("./decode-worker.ts", import.meta.url).href;
}

interface Pending {
  task: DecodeTask;
  resolve: (p: DecodedPush) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Whether it answered anything: one that fails before its first answer cannot start here. */
  answered: boolean;
}

/** `workers` 0 decodes every body on the calling thread; `url` is the worker's module (a test's stand-in). */
export function createDecodePool(opts: {
  workers: number;
  maxLineBytes: number;
  log?: Logger;
  url?: string;
}): PushDecoder {
  const { maxLineBytes } = opts;
  const url = opts.url ?? workerUrl();
  const counts = { worker: 0, here: 0 };
  const inline = (body: Uint8Array, now: string) => {
    counts.here++;
    return decodePush(body, now, maxLineBytes, null);
  };
  const slots: (Slot | null)[] = Array.from({ length: opts.workers }, () => null);
  let ids = 0;
  let closed = false;
  /** Set when a worker failed before its first answer (it cannot run here): every body is decoded here. */
  let disabled = false;
  /**
   * Bodies no thread has taken yet. Decoding the overflow in place, in the turn its request arrived, made a
   * burst of 64 requests cost the server's thread up to 62 decodes in a row while the worker, done with its
   * two, waited for that turn to end to get more: at 64 jobs it ran at 0.06-0.08 of a core.
   */
  const backlog: Pending[] = [];
  let draining = false;

  /** Settles `p` with its body decoded on this thread. */
  function here(p: Pending): void {
    try {
      p.resolve(inline(p.task.body, p.task.now));
    } catch (err) {
      p.reject(err);
    }
  }

  /** One body of the backlog decoded here per turn: what came in that turn (answers, requests) goes first. */
  function drainOne(): void {
    draining = false;
    const p = backlog.shift();
    if (p === undefined) return;
    here(p);
    schedule();
  }
  function schedule(): void {
    if (draining || backlog.length === 0) return;
    draining = true;
    setImmediate(drainOne);
  }

  /** Hands `p` to a worker with room (started if it is not running); false when none has room. */
  function post(p: Pending): boolean {
    if (closed || disabled) return false;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] ?? start(i);
      if (slot.pending.size >= MAX_QUEUE) continue;
      slot.pending.set(p.task.id, p);
      // Copied, not transferred: the body stays here for a decode with the job's masker, or in place of a
      // failed worker.
      slot.worker.postMessage(p.task);
      return true;
    }
    return false;
  }

  /** Decodes here what a worker that is gone still held. */
  function drain(slot: Slot): void {
    for (const p of slot.pending.values()) here(p);
    slot.pending.clear();
  }

  function start(i: number): Slot {
    const worker = new Worker(url);
    worker.unref(); // an idle worker must not keep the process alive
    const slot: Slot = { worker, pending: new Map(), answered: false };
    worker.onmessage = (e: MessageEvent<DecodeReply>) => {
      const r = e.data;
      const p = slot.pending.get(r.id);
      if (p === undefined) return;
      slot.answered = true;
      counts.worker++;
      slot.pending.delete(r.id);
      // Its next body first, so it is not idle while this answer goes on through the job's turn.
      const next = backlog.shift();
      if (next !== undefined && !post(next)) backlog.unshift(next);
      if (r.ok) p.resolve(r.push);
      else p.reject(new AppError(r.status, r.code, r.message, r.headers));
    };
    // A worker that fails (a bug, memory) is replaced; the bodies it held are decoded here, so each request
    // still gets the answer it would have had.
    worker.onerror = (e: ErrorEvent) => {
      if (slot.answered) opts.log?.error(`push decode worker failed, starting another: ${e.message}`);
      else {
        disabled = true;
        opts.log?.error(
          `push decode worker failed before its first answer (${e.message}): push bodies are decoded on the server's thread from now on`,
        );
      }
      worker.terminate();
      if (slots[i] === slot) slots[i] = null;
      drain(slot);
    };
    slots[i] = slot;
    return slot;
  }

  return {
    async decode(body, now, alone = false) {
      if (alone || slots.length === 0 || closed || disabled || body.length < INLINE_BYTES)
        return inline(body, now);
      const { promise, resolve, reject } = Promise.withResolvers<DecodedPush>();
      const p: Pending = { task: { id: ++ids, body, now, maxLineBytes }, resolve, reject };
      if (!post(p)) {
        backlog.push(p);
        schedule();
      }
      return promise;
    },
    counts: () => ({ ...counts }),
    close() {
      closed = true;
      for (const s of slots) {
        if (s === null) continue;
        s.worker.terminate();
        drain(s);
      }
      slots.fill(null);
      for (let p = backlog.shift(); p !== undefined; p = backlog.shift()) here(p);
    },
  };
}
