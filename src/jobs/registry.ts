// The job registry: the ingest path (route → registry → store → commit → `appended`), one job at a time.
import type { Job } from "../core/job.ts";
import {
  type EncodedBatch,
  encodeBatch,
  encodeEvent,
  type IncomingLine,
  type MaskText,
  maskStored,
} from "../core/line.ts";
import { splitLines } from "../core/scan.ts";
import { iso } from "../core/time.ts";
import { linesMissing } from "../core/union.ts";
import { AppError, notFound } from "../errors.ts";
import type { Events } from "../events.ts";
import type { Logger } from "../log.ts";
import type { LogStore } from "../logs/store.ts";
import { isTerminal } from "../protocol/status.ts";
import type { CapWindow, JobFilter, KeyRecord, Repositories } from "../state/types.ts";
import { type Cap, lineEnds } from "./cap.ts";
import { createSerial } from "./serial.ts";

export interface PushResult {
  first: number;
  next: number;
  truncated: number;
  duplicate: boolean;
  /** Lines kept in the rolling window of a job past its size cap (numbered when the job ends). */
  held?: number;
}

/** What the archive may refuse; without an archive nothing is refused. */
export interface ArchiveGuard {
  /** Before an append to an ended job: throws (an AppError) while its local log is not there to append to. */
  lateAppend(job: Job): Promise<void>;
  /** Before an edit of a job's identity: throws once its archive key (which follows it) is fixed. */
  edit(job: Job): Promise<void>;
}

/** Registered secrets (masking/secrets.ts), applied to every line before it is stored. */
export interface IngestMasks {
  /** The masking of job `id`'s pushed lines, null without secrets; throws (an AppError) when it cannot be applied. */
  push(id: string): MaskText | null;
  /** The masking of a server event; "withheld" when the job's secrets cannot be applied. */
  event(id: string): MaskText | null | "withheld";
}

/** What a server event says instead of its text when the job's secrets cannot be applied to it. */
export const WITHHELD_EVENT =
  "[masking] a server event was withheld: this job's registered secrets are no longer available to mask it";

/** What text stored beside the log (a job's error) says instead, in that case. */
export const WITHHELD_TEXT =
  "[masking] withheld: this job's registered secrets are no longer available to mask this text";

export interface RegistryOptions {
  state: Pick<Repositories, "jobs" | "idempotency" | "lineIndex" | "caps">;
  store: LogStore;
  events: Events;
  maxLineBytes: number;
  /** The per-job size cap (limits.max_job_bytes); none when absent. */
  cap?: Cap | null;
  archiveGuard?: ArchiveGuard | null;
  masks?: IngestMasks | null;
  clock?: () => number;
  /** Sparse line index: a checkpoint at most every this many lines. */
  checkpointLines?: number;
  log?: Logger;
}

/** One committed run: its text or bytes, how many lines, and what commits with it. */
interface Run {
  text?: string;
  data?: Uint8Array;
  count: number;
  /** The batch key and its answer, given the run's line numbers. */
  key?: ((first: number, next: number) => KeyRecord) | null;
  window?: CapWindow;
  /** Lines pushed after the job ended count as late; the size-cap window released at the end does not. */
  countLate?: boolean;
}

export type Registry = ReturnType<typeof createRegistry>;

export function createRegistry(opts: RegistryOptions) {
  const { state, store, events } = opts;
  const clock = opts.clock ?? Date.now;
  const checkpointEvery = opts.checkpointLines ?? 1024;
  const cap = opts.cap ?? null;
  const guard = opts.archiveGuard ?? null;
  const masks = opts.masks ?? null;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  // One job's writes run one after another (each reads the end the previous one committed); jobs run
  // side by side.
  const serial = createSerial();

  const get = (id: string): Promise<Job | null> => state.jobs.get(id);

  /** Creates the row for `id` if missing; a file left by a Strøm server is adopted with its line count. */
  async function ensure(id: string, init?: { workspace: string; task: string; created_at?: number }) {
    const existing = await get(id);
    if (existing) return existing;
    const now = clock();
    const adopted = store.countLines(id, checkpointEvery);
    return state.jobs.create({
      id,
      workspace: init?.workspace ?? "default",
      task: init?.task ?? "default",
      created_at: init?.created_at ?? now,
      now,
      line_count: adopted.lines,
      byte_count: adopted.bytes,
      checkpoints: adopted.checkpoints,
    });
  }

  /** Runs `fn` with the job (created if missing) while no other write of this job runs. */
  const withJob = <T>(id: string, fn: (job: Job) => Promise<T>): Promise<T> =>
    serial.run(id, async () => fn(await ensure(id)));

  /**
   * Appends a run at the job's committed end: bytes to the file, then the commit (the commit point), then
   * `appended`. A failed commit cuts the bytes again, so the file and the state agree. Runs inside the job's turn.
   */
  async function appendRun(job: Job, run: Run): Promise<{ first: number; next: number; job: Job }> {
    if (guard !== null && isTerminal(job.status)) await guard.lateAppend(job);
    const data = run.data ?? encoder.encode(run.text!);
    const offset = job.byte_count;
    store.append(job.id, data, offset);
    const first = job.line_count;
    const next = first + run.count;
    let updated: Job;
    try {
      updated = await state.jobs.commitAppend({
        id: job.id,
        first,
        offset,
        lines: run.count,
        bytes: data.length,
        late: run.countLate !== false && isTerminal(job.status) ? run.count : 0,
        now: clock(),
        checkpointEvery,
        key: run.key?.(first, next),
        window: run.window,
      });
    } catch (e) {
      const err = commitError(e, job.id);
      store.cut(job.id, offset, err);
      throw err;
    }
    events.emit("appended", {
      job: updated,
      first,
      next,
      offset,
      bytes: data,
      // Decoded only for a listener that reads it (a live viewer of this job): a batch decoded on a worker
      // arrives as bytes.
      get text() {
        run.text ??= decoder.decode(data);
        return run.text;
      },
    });
    return { first, next, job: updated };
  }

  /** The key of a batch with its answer, so a retry is answered the same and written nowhere. */
  const keyOf = (key: string | null, truncated: number, held = 0) =>
    key === null
      ? null
      : (first: number, next: number): KeyRecord => ({ key, answer: { first, next, truncated, held } });

  /** A batch of job `id`'s: `encode` runs in the job's turn with the job's masker (null without secrets). */
  async function pushed(id: string, key: string | null, encode: (mask: MaskText | null) => EncodedBatch) {
    const job = await ensure(id);
    if (key !== null) {
      const seen = await state.idempotency.get(id, key);
      if (seen) {
        const { first, next, truncated, held } = seen;
        return { first, next, truncated, duplicate: true, ...(held > 0 ? { held } : {}) };
      }
    }
    const batch = encode(masks === null ? null : masks.push(id));
    const { data, count, truncated } = batch;
    if (cap !== null) {
      if (isTerminal(job.status)) await cap.checkLate(job, data.length);
      else if (job.byte_count + data.length > cap.headLimit || (cap.mayHave(id) && (await cap.started(id)))) {
        return capped(job, data, count, key, truncated);
      }
    }
    const { first, next } = await appendRun(job, { ...batch, key: keyOf(key, truncated) });
    return { first, next, truncated, duplicate: false };
  }

  /**
   * A batch of `sent.count` lines (`sent.lineBytes` of text) for job `id`, encoded by `encode` in the job's turn
   * (ingest/decode.ts hands over one it decoded before, and decodes it again when the job has a masker).
   */
  async function pushBatch(
    id: string,
    key: string | null,
    sent: { count: number; lineBytes: number },
    encode: (mask: MaskText | null) => EncodedBatch,
  ): Promise<PushResult> {
    const started = performance.now();
    const seen = { job: id, lines: sent.count, bytes: sent.lineBytes };
    try {
      const r = await serial.run(id, () => pushed(id, key, encode));
      if (events.listened("push")) {
        const outcome = r.duplicate ? "duplicate" : r.held ? "held" : "written";
        events.emit("push", {
          ...seen,
          outcome,
          truncated: r.truncated,
          held: r.held ?? 0,
          code: null,
          ms: performance.now() - started,
        });
      }
      return r;
    } catch (e) {
      const code = e instanceof AppError ? e.code : "internal";
      if (events.listened("push"))
        events.emit("push", {
          ...seen,
          outcome: "refused",
          truncated: 0,
          held: 0,
          code,
          ms: performance.now() - started,
        });
      throw e;
    }
  }

  /**
   * A running job at its size cap: the lines that fit under the head limit go to the log, the rest to the
   * rolling window, numbered when the job ends. Both parts and the key commit together: a retry of the
   * batch is answered the same and writes nothing.
   */
  async function capped(
    job: Job,
    data: Uint8Array,
    count: number,
    key: string | null,
    truncated: number,
  ): Promise<PushResult> {
    const c = cap!;
    const ends = lineEnds(data);
    const headCount = await c.headLines(job, ends);
    const record = keyOf(key, truncated, count - headCount);
    if (headCount === count) {
      const { first, next } = await appendRun(job, { data, count, key: record });
      return { first, next, truncated, duplicate: false };
    }
    const headEnd = headCount === 0 ? 0 : ends[headCount - 1]!;
    const starts = !(await c.started(job.id));
    const reach = starts
      ? eventText(
          job.id,
          `[limits] log reached ${c.headLimit} bytes, half of limits.max_job_bytes ${c.maxJobBytes}; ` +
            "later lines are kept in a rolling window of the most recent ones and added here when the job ends",
        )
      : null;
    const window = await c.hold(
      job,
      data.subarray(headEnd),
      ends.slice(headCount).map((e) => e - headEnd),
    );
    const held = count - headCount;
    if (headCount === 0 && reach === null) {
      const at = job.line_count;
      try {
        await state.caps.hold({ window, key: record?.(at, at), now: clock() });
      } catch (e) {
        throw commitError(e, job.id);
      }
      return { first: at, next: at, truncated, duplicate: false, held };
    }
    // The head's share and the event that the window started go to the log as one run.
    const head =
      reach === null ? data.subarray(0, headEnd) : Buffer.concat([data.subarray(0, headEnd), reach.data]);
    const { first } = await appendRun(job, {
      data: head,
      count: headCount + (reach?.count ?? 0),
      key: record === null ? null : (first) => record(first, first + headCount),
      window,
    });
    if (starts) events.emit("cap.started", { job: job.id });
    // The note rode in the head's run, not through eventIn: it is a server event all the same.
    if (reach !== null)
      events.emit("server_event", {
        job: job.id,
        first: first + headCount,
        next: first + headCount + reach.count,
      });
    return { first, next: first + headCount, truncated, duplicate: false, held };
  }

  /** Encodes a server event of job `id` (one line per line of `message`), masked. */
  function eventText(id: string, message: string): { data: Uint8Array; text: string; count: number } {
    const mask = masks === null ? null : masks.event(id);
    const { text, count } =
      mask === "withheld"
        ? encodeEvent(WITHHELD_EVENT, iso(clock()), opts.maxLineBytes)
        : encodeEvent(message, iso(clock()), opts.maxLineBytes, mask);
    return { data: encoder.encode(text), text, count };
  }

  /** `text` as job `id`'s log would hold it (for text stored beside the log: a job's error, the service log). */
  function masked(id: string, text: string): string {
    const mask = masks === null ? null : masks.event(id);
    return mask === "withheld" ? WITHHELD_TEXT : mask === null ? text : mask(text);
  }

  /** A server event in a job's turn: `step: "_server"`, `stream: "stderr"`, through the same append path as any line. */
  async function eventIn(
    job: Job,
    message: string,
    key: string | null,
    window?: CapWindow,
  ): Promise<{ first: number; next: number; duplicate?: true }> {
    if (key !== null) {
      const seen = await state.idempotency.get(job.id, key);
      if (seen) return { first: seen.first, next: seen.next, duplicate: true };
    }
    const { text, count } = eventText(job.id, message);
    const r = await appendRun(job, { text, count, key: keyOf(key, 0), ...(window ? { window } : {}) });
    events.emit("server_event", { job: job.id, first: r.first, next: r.next });
    return { first: r.first, next: r.next };
  }

  /** A server event; `key`: an event retried under the same key (a client that lost the answer) is recorded once. */
  const event = (id: string, message: string, key: string | null = null) =>
    withJob(id, (job) => eventIn(job, message, key));

  return {
    get,
    async mustGet(id: string): Promise<Job> {
      const job = await get(id);
      if (!job) throw notFound(`job ${id} not found`);
      return job;
    },
    withJob,
    /** Runs `fn` while no write of job `id` runs (and none starts): a check and an action on it stay together. */
    exclusive: <T>(id: string, fn: () => Promise<T>): Promise<T> => serial.run(id, fn),
    /** Resolves once no write of any job is running. */
    idle: () => serial.idle(),

    /** A worker's lines, encoded here in the job's turn. */
    push(id: string, step: string, lines: IncomingLine[], key: string | null): Promise<PushResult> {
      let lineBytes = 0;
      for (const l of lines) lineBytes += Buffer.byteLength(l.line);
      return pushBatch(id, key, { count: lines.length, lineBytes }, (mask) => {
        const { text, truncated } = encodeBatch(lines, step, iso(clock()), opts.maxLineBytes, mask);
        return { text, data: encoder.encode(text), count: lines.length, truncated, lineBytes };
      });
    },
    pushBatch,
    /** The timestamp a line without one gets now. */
    now: () => iso(clock()),
    /** Whether job `id` has registered secrets now: a hint for how to decode a push (its turn decides). */
    mayMask: (id: string): boolean => masks !== null && masks.event(id) !== null,
    event,
    eventIn,
    /** A server event that must not throw: the caller goes on even when the disk refuses the event itself. */
    async note(id: string, message: string): Promise<void> {
      try {
        await event(id, message);
      } catch (e) {
        opts.log?.error(`job ${id}: could not record the server event "${masked(id, message)}"`, e);
      }
    },
    /**
     * Lines of another copy of this log (a Strøm archive, Strøm's own `_server` events) that ours lacks, added
     * verbatim — byte-identical to that copy, so a union of exact lines never takes them twice — then, with a
     * `message`, a server event saying where they came from. Not counted as late lines: no worker sent them.
     */
    fold: (id: string, lines: readonly string[], message: string | null) =>
      withJob(id, async (job) => {
        const raw = lines.length === 0 ? "" : `${lines.join("\n")}\n`;
        // Masked like every stored line: a line with a registered secret in it is stored masked (and so no
        // longer byte-identical to the other copy: `missing` compares by the stored form).
        const mask = masks === null || raw === "" ? null : masks.event(id);
        // Secrets registered but no longer known (lost at a restart, forgotten after the end): the other
        // copy's lines cannot be masked, so they are not stored; that copy is kept as it is, and an event says so.
        // The note holds a count and nothing of the lines, so it is stored as it is (a server event of this job
        // would be withheld itself).
        const note =
          mask === "withheld"
            ? encodeEvent(
                `[masking] ${lines.length} lines of another copy of this log were not added: this job's registered ` +
                  "secrets are no longer available to mask them; that copy is kept as it is",
                iso(clock()),
                opts.maxLineBytes,
              )
            : null;
        const text = note !== null ? note.text : typeof mask === "function" ? maskStored(raw, mask) : raw;
        const count = note !== null ? note.count : lines.length;
        const r = text === "" ? null : await appendRun(job, { text, count, countLate: false });
        if (note !== null && r !== null)
          events.emit("server_event", { job: id, first: r.first, next: r.next });
        if (message !== null) await eventIn(r?.job ?? job, message, null);
      }),
    /**
     * The lines of another copy of `job`'s log (a Strøm archive, Strøm's own `_server` events) that its
     * committed log lacks, each once, in that copy's order — what `fold` should add. Compared as they would be
     * stored (masked: a line with a registered secret is never byte-identical to the other copy's), so a
     * line folded in once is found the next time.
     */
    missing: (job: Job, theirs: readonly string[]): Promise<string[]> => {
      const mask = masks === null ? null : masks.event(job.id);
      const storedAs = typeof mask === "function" ? (line: string) => maskStored(line, mask) : undefined;
      const ours =
        job.byte_count === 0
          ? (async function* () {})()
          : splitLines(Bun.file(store.jsonlPath(job.id)).slice(0, job.byte_count).stream());
      return linesMissing(theirs, ours, storedAs);
    },
    /** Lines of the size-cap window moved into the log at the job's end (not late), with the window's progress. */
    appendWindow: (id: string, text: string, count: number, window: CapWindow) =>
      withJob(id, async (job) => {
        // Masked when pushed; masked again for the values registered while the lines were held.
        const mask = masks === null ? null : masks.event(id);
        const kept = typeof mask === "function" ? maskStored(text, mask) : text;
        await appendRun(job, { text: kept, count, window, countLate: false });
      }),
    masked,
    /** Creates the job, or changes its workspace, task and created_at. */
    register: (id: string, fields: { workspace: string; task: string; created_at?: number | undefined }) =>
      serial.run(id, async (): Promise<{ job: Job; created: boolean }> => {
        const existing = await get(id);
        if (!existing) {
          const job = await ensure(id, {
            workspace: fields.workspace,
            task: fields.task,
            ...(fields.created_at !== undefined ? { created_at: fields.created_at } : {}),
          });
          return { job, created: true };
        }
        await guard?.edit(existing);
        const job = await state.jobs.edit(
          id,
          {
            workspace: fields.workspace,
            task: fields.task,
            created_at: fields.created_at ?? existing.created_at,
          },
          clock(),
        );
        return { job, created: false };
      }),
    async heartbeat(id: string): Promise<Job> {
      const job = await get(id);
      if (!job) throw notFound(`job ${id} not found`);
      await state.jobs.touch(id, clock());
      return job;
    },
    /** Sparse index: the checkpoint at or before `line` (line 0 at offset 0 when there is none). */
    checkpoint: (id: string, line: number) => state.lineIndex.at(id, line),
    list: (filter: JobFilter) => state.jobs.list(filter),
  };
}

/** A push as `push` reports it: its job, lines and their text's bytes. */
/** A failed commit of a written batch: a full disk is a 507 like a failed file write; anything else a 503. */
export function commitError(e: unknown, id: string): AppError {
  if (e instanceof AppError) return e;
  const kind = (e as { kind?: string }).kind;
  if (kind === "full") {
    return new AppError(
      507,
      "disk_full",
      `no space left to record the log of job ${id}; retry later`,
      { "Retry-After": "30" },
      e,
    );
  }
  return new AppError(
    503,
    "storage_error",
    `recording the log of job ${id} failed: ${(e as Error).message}`,
    { "Retry-After": "5" },
    e,
  );
}
