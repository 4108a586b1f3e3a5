// The live hub: who watches which job, the fan-out of each committed run, and each viewer's catch-up from disk.
import {
  afterSend,
  FrameBuilder,
  filteredFrame,
  isDone,
  liveAction,
  splitRun,
  startCursor,
} from "../core/frames.ts";
import type { Job } from "../core/job.ts";
import { type LineFilter, makeMatcher } from "../core/line.ts";
import type { Batch } from "../core/scan.ts";
import type { EventMap, Events, StreamCloseWhy } from "../events.ts";
import type { Logger } from "../log.ts";
import type { Reader, Selection } from "../logs/read.ts";
import { closeReason, OVER_BUDGET, overBudgetReason } from "../protocol/close.ts";
import { createBudget, type Holder } from "./budget.ts";

/** The part of Bun's `ServerWebSocket` the hub uses. */
export interface LiveSocket {
  /** > 0 written, -1 accepted but buffered (back-pressure), 0 dropped. */
  send(data: string): number;
  close(code?: number, reason?: string): void;
  /** Closes at once without a close frame, dropping what is buffered. */
  terminate(): void;
  getBufferedAmount(): number;
}

export interface ViewSpec {
  job: string;
  from?: number | undefined;
  skipBackfill: boolean;
  filter: LineFilter;
}

export interface LiveHubOptions {
  /** The job's committed end, as the state has it now. */
  getJob: (id: string) => Promise<Job | null>;
  reader: Pick<Reader, "select">;
  /** `appended` and `settled` drive the live fan-out and the end of streams; the hub reports `stream.*`. */
  events: Events;
  log: Logger;
  /** Largest frame sent (a single longer line is a frame of its own). */
  maxFrameBytes?: number;
  /** A blocked viewer resumes once its socket buffers at most this many bytes. */
  resumeBelowBytes?: number;
  /** Catch-up reads running at once; the others wait their turn. */
  maxConcurrentReads?: number;
  /** A catch-up read yields its turn after sending this much. */
  readSliceBytes?: number;
  /** Viewers of one job, and in total, past which new ones are refused. */
  maxViewersPerJob?: number;
  maxViewers?: number;
  /** stream.max_buffered_bytes: what Bun may buffer for all viewers together (see budget.ts). */
  maxBufferedBytes?: number;
  /** Milliseconds, for the budget's accounting of closed sockets. */
  now?: () => number;
}

export type LiveHub = ReturnType<typeof createLiveHub>;

/**
 * - live: receives runs as they are committed (its cursor is the job's end);
 * - queued / reading: catching up from the log through the reader;
 * - blocked: its socket reported back-pressure; nothing is sent until it drains;
 * - deciding: reading the job's end to choose one of the above (counted as queued).
 */
type State = "live" | "queued" | "reading" | "blocked" | "deciding" | "closed";

interface Viewer extends Holder {
  socket: LiveSocket;
  job: string;
  /** Global number of the next line this viewer must receive. */
  cursor: number;
  filter: LineFilter;
  /** "" when unfiltered; viewers with the same key share one filtered frame per run. */
  filterKey: string;
  match: ((text: string) => boolean) | null;
  state: State;
  /** An archive or legacy read kept across turns (they cannot seek); a local read is reopened at the cursor. */
  held: Held | null;
  /** The last read stopped before the end of what it selected: without a job row, only reading again tells. */
  pending: boolean;
}

interface Held {
  sel: Selection;
  it: AsyncIterator<Batch>;
  /** Lines of the current batch not yet framed. */
  rest: { batch: Batch; index: number } | null;
}

const KiB = 1024;
/** A closed socket's buffer is counted this long (Bun frees it within 16 s, measured). */
const LINGER_MS = 20_000;

export function createLiveHub(opts: LiveHubOptions) {
  const { reader, log, events } = opts;
  const maxFrameBytes = opts.maxFrameBytes ?? 256 * KiB;
  const resumeBelow = opts.resumeBelowBytes ?? 64 * KiB;
  const maxReads = opts.maxConcurrentReads ?? 4;
  const sliceBytes = opts.readSliceBytes ?? 1024 * KiB;
  const maxPerJob = opts.maxViewersPerJob ?? Number.POSITIVE_INFINITY;
  const maxTotal = opts.maxViewers ?? Number.POSITIVE_INFINITY;
  const maxBuffered = opts.maxBufferedBytes ?? 256 * KiB * KiB;
  const now = opts.now ?? (() => performance.now());
  const budget = createBudget<Viewer>({ maxBytes: maxBuffered, lingerMs: LINGER_MS, now });
  let lastBudgetWarning = Number.NEGATIVE_INFINITY;
  const byJob = new Map<string, Set<Viewer>>();
  const bySocket = new Map<LiveSocket, Viewer>();
  const queue: Viewer[] = [];
  let reading = 0;
  let scheduled = false;
  /** Bumped by every commit event of a watched job: a decision taken on a read of the job from before is taken again. */
  const versions = new Map<string, number>();
  const bump = (id: string) => versions.set(id, (versions.get(id) ?? 0) + 1);

  events.on("appended", onAppend);
  events.on("settled", (e) => onSettled(e.job));

  function onAppend(a: EventMap["appended"]): void {
    const viewers = byJob.get(a.job.id);
    if (viewers === undefined) return; // a job nobody watches costs this lookup
    bump(a.job.id);
    const run = { first: a.first, next: a.next, bytes: a.bytes.length };
    let text: string | null = null;
    let lines: string[] | null = null;
    let filtered: Map<string, string> | null = null;
    for (const v of viewers) {
      const action = liveAction({ cursor: v.cursor, live: v.state === "live" }, run, maxFrameBytes);
      if (action === "skip") continue;
      if (action === "catch-up") {
        enqueue(v);
        continue;
      }
      text ??= a.text;
      let frame = text;
      if (v.match !== null) {
        filtered ??= new Map();
        let f = filtered.get(v.filterKey);
        if (f === undefined) {
          lines ??= splitRun(text);
          f = filteredFrame(lines, v.match);
          filtered.set(v.filterKey, f);
        }
        frame = f;
      }
      if (frame === "") v.cursor = a.next;
      else {
        deliver(v, frame, a.next);
        if (v.cursor === a.next) frameSent(v, frame, "live");
      }
    }
  }

  function onSettled(job: Job): void {
    const viewers = byJob.get(job.id);
    if (viewers === undefined) return;
    bump(job.id);
    for (const v of viewers) {
      if ((v.state === "live" || v.state === "blocked") && isDone(v.cursor, job)) finish(v, job);
    }
  }

  /** Sends a frame covering lines up to `end`; false when the viewer must stop (blocked or closed). */
  function deliver(v: Viewer, frame: string, end: number): boolean {
    const status = v.socket.send(frame);
    const r = afterSend(status, v.cursor, end);
    v.cursor = r.cursor;
    if (!r.blocked) {
      if (v.buffered > 0) budget.set(v, 0);
      return true;
    }
    v.state = "blocked";
    budget.set(v, v.socket.getBufferedAmount());
    evictOverBudget();
    return false;
  }

  /** Past the budget, closes the viewers stalled longest: with a reason to resume from, or cut off. */
  function evictOverBudget(): void {
    const out = budget.evictions();
    if (out.length === 0) return;
    for (const { holder: v, how } of out) {
      if (how === "close") close(v, OVER_BUDGET, overBudgetReason(maxBuffered, v.cursor), "over_budget");
      else {
        forget(v, 1006, "cut");
        v.socket.terminate();
      }
    }
    if (now() - lastBudgetWarning >= 60_000) {
      lastBudgetWarning = now();
      const s = budget.stats();
      log.warn(
        `live streams: viewers that do not read held more than stream.max_buffered_bytes ${maxBuffered}; ` +
          `closed ${out.length} now (${s.closed_over_budget.resumable} with a reason to resume, ` +
          `${s.closed_over_budget.cut} cut off since start)`,
      );
    }
  }

  /** Counting a frame's bytes costs a pass over it: only done while someone listens. */
  function frameSent(v: Viewer, frame: string, mode: "live" | "catch-up"): void {
    if (events.listened("stream.frame"))
      events.emit("stream.frame", { job: v.job, bytes: Buffer.byteLength(frame), mode });
  }

  /**
   * Decides what a viewer does next from its cursor and the job's committed end. The end is read from the
   * state; a commit event of the job while that read was out means the read may predate it: read again.
   */
  function advance(v: Viewer): void {
    if (v.state === "closed") return;
    v.state = "deciding";
    void (async () => {
      for (;;) {
        const seen = versions.get(v.job) ?? 0;
        const job = await opts.getJob(v.job);
        if (v.state !== "deciding") return;
        if ((versions.get(v.job) ?? 0) !== seen) continue;
        if (isDone(v.cursor, job)) finish(v, job!);
        else if (v.pending || (job !== null && v.cursor < job.line_count)) enqueue(v);
        else {
          v.state = "live";
          events.emit("stream.live", { job: v.job });
        }
        return;
      }
    })().catch((e: unknown) => fail(v, e));
  }

  function enqueue(v: Viewer): void {
    v.state = "queued";
    queue.push(v);
    if (!scheduled) {
      scheduled = true;
      // Reads start outside the append that triggered them: appends stay synchronous and cheap.
      queueMicrotask(schedule);
    }
  }

  function schedule(): void {
    scheduled = false;
    while (reading < maxReads && queue.length > 0) {
      const v = queue.shift()!;
      if (v.state !== "queued") continue;
      reading++;
      void catchUp(v)
        .catch((e: unknown) => fail(v, e))
        .finally(() => {
          reading--;
          schedule();
        });
    }
  }

  /** Reads from the viewer's cursor and sends bounded frames until it is caught up, blocked or its turn ends. */
  async function catchUp(v: Viewer): Promise<void> {
    v.state = "reading";
    v.pending = true;
    let h = v.held;
    v.held = null;
    if (h === null) {
      const select = () => reader.select(v.job, { from: v.cursor, filter: v.filter });
      let sel = await select();
      if (v.state !== "reading") return;
      if (sel === null) {
        v.pending = false;
        const job = await opts.getJob(v.job);
        if (v.state !== "reading") return;
        // No tier holds the log: a job not created yet waits for its first line. Lines committed since the
        // first look are in the file (it is written before the commit): look again before calling it unreadable.
        if (job === null || job.line_count <= v.cursor) return advance(v);
        sel = await select();
        if (v.state !== "reading") return;
        if (sel === null) return close(v, 1011, `log of job ${v.job} is not readable`, "unreadable");
      }
      h = { sel, it: sel.batches[Symbol.asyncIterator](), rest: null };
    }
    const held = h;
    const keep = held.sel.source !== "local";
    const frame = new FrameBuilder(maxFrameBytes);
    let sent = 0;
    /** Ends this turn: keeps a non-seekable read for the next one, releases a local one. */
    const pause = async (rest: Held["rest"]) => {
      if (keep && v.state !== "closed") v.held = { ...held, rest };
      else await held.it.return?.();
    };
    for (;;) {
      let batch: Batch;
      let index = 0;
      if (held.rest !== null) {
        ({ batch, index } = held.rest);
        held.rest = null;
      } else {
        const r = await held.it.next();
        if (v.state !== "reading") {
          await held.it.return?.();
          return;
        }
        if (r.done) {
          const end = held.sel.next();
          const before = v.cursor;
          if (frame.empty) v.cursor = Math.max(v.cursor, end);
          else {
            const text = frame.take();
            const ok = deliver(v, text, end);
            if (v.cursor !== before) frameSent(v, text, "catch-up");
            if (!ok) {
              v.pending = v.cursor === before; // a dropped last frame must be read again
              return;
            }
          }
          v.pending = false;
          return advance(v);
        }
        batch = r.value;
      }
      for (let i = index; i < batch.texts.length; i++) {
        if (!frame.add(batch.texts[i]!)) continue;
        const text = frame.take();
        const before = v.cursor;
        const ok = deliver(v, text, batch.nums[i]! + 1);
        if (v.cursor !== before) frameSent(v, text, "catch-up");
        if (!ok) {
          // A dropped frame leaves the cursor where it was: a kept read is already past it, so reopen.
          if (v.cursor === before) await held.it.return?.();
          else await pause({ batch, index: i + 1 });
          return;
        }
        sent += text.length;
        if (sent >= sliceBytes) {
          await pause({ batch, index: i + 1 });
          if (v.state === "reading") enqueue(v);
          return;
        }
      }
    }
  }

  function finish(v: Viewer, job: Job): void {
    close(v, 1000, closeReason(job.status), "end");
  }

  function close(v: Viewer, code: number, reason: string, why: StreamCloseWhy): void {
    budget.release(v, true); // the close frame waits behind what is buffered, which stays until then
    forget(v, code, why);
    v.socket.close(code, reason.slice(0, 123)); // a close reason holds at most 123 bytes
  }

  function fail(v: Viewer, e: unknown): void {
    if (v.state === "closed") return;
    log.error(`live stream of job ${v.job}: catch-up read failed at line ${v.cursor}`, e);
    close(v, 1011, (e as Error).message ?? "read failed", "error");
  }

  function forget(v: Viewer, code: number, why: StreamCloseWhy): void {
    if (v.state === "closed") return;
    events.emit("stream.closed", { job: v.job, code, why });
    budget.release(v, false);
    v.state = "closed";
    bySocket.delete(v.socket);
    const set = byJob.get(v.job);
    if (set !== undefined) {
      set.delete(v);
      if (set.size === 0) {
        byJob.delete(v.job);
        versions.delete(v.job);
      }
    }
    if (v.held !== null) {
      void v.held.it.return?.();
      v.held = null;
    }
  }

  return {
    /** Why a new viewer of `job` would be refused now (a limit reached), or null. */
    refusal(job: string): string | null {
      const here = byJob.get(job)?.size ?? 0;
      if (here >= maxPerJob)
        return `job ${job} already has ${here} live viewers (limits.max_streams_per_job ${maxPerJob})`;
      if (bySocket.size >= maxTotal)
        return `the server already has ${bySocket.size} live viewers (limits.max_streams ${maxTotal})`;
      return null;
    },
    /** Starts streaming job `spec.job` to `socket`: backfill from the cursor, then live. */
    attach(socket: LiveSocket, spec: ViewSpec): void {
      const v: Viewer = {
        socket,
        job: spec.job,
        cursor: 0,
        filter: spec.filter,
        filterKey:
          spec.filter.step === undefined && spec.filter.stream === undefined
            ? ""
            : JSON.stringify(spec.filter),
        match: makeMatcher(spec.filter),
        state: "deciding",
        held: null,
        pending: false,
        buffered: 0,
      };
      bySocket.set(socket, v);
      let set = byJob.get(spec.job);
      if (set === undefined) {
        set = new Set();
        byJob.set(spec.job, set);
      }
      set.add(v);
      events.emit("stream.opened", { job: spec.job });
      void (async () => {
        const job = await opts.getJob(spec.job);
        if (v.state !== "deciding") return;
        // Lines committed after this read are past the cursor: the catch-up below reads them.
        v.cursor = startCursor(spec, job?.line_count ?? 0);
        // Otherwise read first, even without a job row: a legacy or archived log may exist.
        if (isDone(v.cursor, job)) finish(v, job!);
        else enqueue(v);
      })().catch((e: unknown) => fail(v, e));
    },
    /** The socket closed (either side): forget the viewer. */
    detach(socket: LiveSocket): void {
      const v = bySocket.get(socket);
      if (v !== undefined) forget(v, 1005, "client");
    },
    /** The socket drained: a blocked viewer resumes from its cursor once little is buffered. */
    drain(socket: LiveSocket): void {
      const v = bySocket.get(socket);
      if (v === undefined) return;
      const buffered = socket.getBufferedAmount();
      budget.set(v, buffered);
      if (v.state !== "blocked" || buffered > resumeBelow) return;
      advance(v);
    },
    /** Closes every stream (graceful shutdown: clients reconnect with `from`). */
    closeAll(code: number, reason: string): void {
      for (const v of [...bySocket.values()]) close(v, code, reason, "shutdown");
    },
    stats() {
      const states = { live: 0, queued: 0, reading: 0, blocked: 0, closed: 0 };
      for (const v of bySocket.values()) states[v.state === "deciding" ? "queued" : v.state]++;
      return { jobs: byJob.size, viewers: bySocket.size, ...states, ...budget.stats() };
    },
  };
}
