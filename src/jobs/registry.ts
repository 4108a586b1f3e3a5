// The job registry: job lifecycle and the ingest path (route → registry → store → listeners).

import { backoff } from "../core/backoff.ts";
import { encodeBatch, encodeEvent, type IncomingLine } from "../core/line.ts";
import { iso } from "../core/time.ts";
import { AppError, conflict, notFound } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { LogStore } from "../logs/store.ts";
import { isTerminal, type TerminalStatus } from "../protocol/status.ts";
import { createCap, lineEnds } from "./cap.ts";
import type { Db, JobRow } from "./db.ts";

export interface PushResult {
  first: number;
  next: number;
  truncated: number;
  duplicate: boolean;
  /** Lines kept in the rolling window of a job past its size cap (numbered when the job ends). */
  held?: number;
}

export interface Appended {
  job: JobRow;
  first: number;
  next: number;
  /** Byte offset of the first appended line and the bytes themselves. */
  offset: number;
  data: Uint8Array;
}

export interface JobsOptions {
  db: Db;
  store: LogStore;
  maxLineBytes: number;
  clock?: () => number;
  /** Sparse line index: a checkpoint at most every this many lines. */
  checkpointLines?: number;
  /** Per-job size cap (limits.max_job_bytes); none when absent. */
  maxJobBytes?: number;
  log?: Logger;
}

export type Jobs = ReturnType<typeof createJobs>;

export function createJobs(opts: JobsOptions) {
  const { db, store } = opts;
  const { q } = db;
  const clock = opts.clock ?? Date.now;
  const checkpointLines = opts.checkpointLines ?? 1024;
  const appendListeners: Array<(a: Appended) => void> = [];
  const terminalListeners: Array<(job: JobRow) => void> = [];
  const settledListeners: Array<(job: JobRow) => void> = [];
  /** Completion work run in order before a terminal job is settled (hooks plug in here). */
  const finishers: Array<(job: JobRow) => Promise<void>> = [];
  const editGuards: Array<(job: JobRow) => void> = [];
  const appendGuards: Array<(job: JobRow) => void> = [];
  const settling = new Map<string, Promise<void>>();
  const encoder = new TextEncoder();
  const cap = opts.maxJobBytes === undefined ? null : createCap({ db, store, maxJobBytes: opts.maxJobBytes });

  const get = (id: string): JobRow | null => q.get.get(id);

  function mustGet(id: string): JobRow {
    const job = get(id);
    if (!job) throw notFound(`job ${id} not found`);
    return job;
  }

  /** Creates the row for `id` if missing; a file left by a Strøm server is adopted with its line count. */
  function ensure(id: string, init?: { workspace: string; task: string; created_at?: number }): JobRow {
    const existing = get(id);
    if (existing) return existing;
    const now = clock();
    const adopted = store.countLines(id, checkpointLines);
    const row = q.insert.get({
      id,
      workspace: init?.workspace ?? "default",
      task: init?.task ?? "default",
      status: "pending",
      created_at: init?.created_at ?? now,
      now,
      line_count: adopted.lines,
      byte_count: adopted.bytes,
    })!;
    if (adopted.checkpoints.length > 0) {
      db.sqlite.transaction(() => {
        for (const [line, offset] of adopted.checkpoints) q.addCheckpoint.run(id, line, offset);
      })();
    }
    return row;
  }

  /**
   * Appends pre-encoded lines as one contiguous run; the row is the commit point. `within` runs inside
   * that commit with the run's line numbers (it records the batch's key, and a held part of the batch).
   */
  function appendEncoded(
    job: JobRow,
    encoded: string | Uint8Array,
    count: number,
    within: ((first: number, next: number) => void) | null,
    /** Lines pushed after the job ended count as late; the size-cap window released at the end does not. */
    countLate = true,
  ) {
    for (const fn of appendGuards) fn(job);
    const data = typeof encoded === "string" ? encoder.encode(encoded) : encoded;
    const offset = job.byte_count;
    store.append(job.id, data, offset);
    const first = job.line_count;
    const next = first + count;
    const ckpt = first - job.ckpt_line >= checkpointLines;
    const row = {
      id: job.id,
      lines: count,
      bytes: data.length,
      now: clock(),
      late: countLate && isTerminal(job.status) ? count : 0,
      ckpt_line: ckpt ? first : job.ckpt_line,
      ckpt_offset: ckpt ? offset : job.ckpt_offset,
    };
    let updated: JobRow;
    try {
      // A lone UPDATE is its own transaction: most batches need no BEGIN/COMMIT round and no re-read.
      updated =
        !ckpt && within === null
          ? q.appended.get(row)!
          : db.sqlite.transaction(() => {
              const r = q.appended.get(row)!;
              if (ckpt) q.addCheckpoint.run(job.id, first, offset);
              within?.(first, next);
              return r;
            })();
    } catch (e) {
      // The bytes are in the file but not committed: cut them, so the file and the row agree again.
      const err = commitError(e, job.id);
      store.cut(job.id, offset, err);
      throw err;
    }
    for (const fn of appendListeners) fn({ job: updated, first, next, offset, data });
    return { first, next };
  }

  /** Records a batch's key with its answer, so a retry is answered the same and written nowhere. */
  const keyRecorder = (id: string, key: string | null, truncated: number, held = 0) =>
    key === null
      ? null
      : (first: number, next: number) => q.addBatch.run(id, key, first, next, truncated, held);

  function push(id: string, step: string, lines: IncomingLine[], key: string | null): PushResult {
    const job = ensure(id);
    if (key !== null) {
      const seen = q.batch.get(id, key);
      if (seen) {
        const { first, next, truncated, held } = seen;
        return { first, next, truncated, duplicate: true, ...(held > 0 ? { held } : {}) };
      }
    }
    const { text, truncated } = encodeBatch(lines, step, iso(clock()), opts.maxLineBytes);
    if (cap !== null) {
      if (isTerminal(job.status)) cap.checkLate(job, Buffer.byteLength(text));
      // A UTF-16 unit is at most 3 bytes of UTF-8: a batch within that bound fits without counting.
      else if (job.byte_count + 3 * text.length > cap.headLimit || cap.started(id)) {
        return capped(job, encoder.encode(text), lines.length, key, truncated);
      }
    }
    const { first, next } = appendEncoded(job, text, lines.length, keyRecorder(id, key, truncated));
    return { first, next, truncated, duplicate: false };
  }

  /**
   * A running job at its size cap: the lines that fit under the head limit go to the log, the rest to the
   * rolling window, numbered when the job ends. Both parts and the key commit together: a retry of the
   * batch is answered the same and writes nothing.
   */
  function capped(
    job: JobRow,
    data: Uint8Array,
    count: number,
    key: string | null,
    truncated: number,
  ): PushResult {
    const ends = lineEnds(data);
    const headCount = cap!.headLines(job, ends);
    const record = keyRecorder(job.id, key, truncated, count - headCount);
    if (headCount === count) {
      const { first, next } = appendEncoded(job, data, count, record);
      return { first, next, truncated, duplicate: false };
    }
    const headEnd = headCount === 0 ? 0 : ends[headCount - 1]!;
    const reach = cap!.started(job.id)
      ? null
      : eventText(
          `[limits] log reached ${cap!.headLimit} bytes, half of limits.max_job_bytes ${opts.maxJobBytes}; ` +
            "later lines are kept in a rolling window of the most recent ones and added here when the job ends",
        );
    const pending = cap!.hold(
      job,
      data.subarray(headEnd),
      ends.slice(headCount).map((e) => e - headEnd),
    );
    const held = count - headCount;
    if (headCount === 0 && reach === null) {
      const at = job.line_count;
      try {
        db.sqlite.transaction(() => {
          pending.commit();
          record?.(at, at);
          q.touch.run({ id: job.id, now: clock() });
        })();
      } catch (e) {
        throw commitError(e, job.id);
      }
      return { first: at, next: at, truncated, duplicate: false, held };
    }
    // The head's share and the event that the window started go to the log as one run.
    const head =
      reach === null ? data.subarray(0, headEnd) : Buffer.concat([data.subarray(0, headEnd), reach.data]);
    const { first } = appendEncoded(job, head, headCount + (reach?.count ?? 0), (first) => {
      pending.commit();
      record?.(first, first + headCount);
    });
    return { first, next: first + headCount, truncated, duplicate: false, held };
  }

  /** Encodes a server event (one line per line of `message`). */
  function eventText(message: string): { data: Uint8Array; count: number } {
    const { text, count } = encodeEvent(message, iso(clock()), opts.maxLineBytes);
    return { data: encoder.encode(text), count };
  }

  /** A server event: `step: "_server"`, `stream: "stderr"`, through the same append path as any line. */
  /** `key`: an event retried under the same key (a client that lost the answer) is recorded once. */
  function event(
    id: string,
    message: string,
    key: string | null = null,
  ): { first: number; next: number; duplicate?: true } {
    const job = ensure(id);
    if (key !== null) {
      const seen = q.batch.get(id, key);
      if (seen) return { first: seen.first, next: seen.next, duplicate: true };
    }
    const { data, count } = eventText(message);
    return appendEncoded(job, data, count, keyRecorder(id, key, 0));
  }

  function complete(
    id: string,
    status: TerminalStatus,
    error: string | null,
  ): { job: JobRow; changed: boolean } {
    const job = ensure(id);
    if (isTerminal(job.status)) {
      if (job.status === status) return { job, changed: false };
      throw conflict(
        `job ${id} already ended as ${job.status}; cannot mark it ${status}`,
        "already_finished",
      );
    }
    const done = q.finish.get({ id, status, error, now: clock() })!;
    store.close(id);
    for (const fn of terminalListeners) fn(done);
    void settle(done);
    return { job: done, changed: true };
  }

  /** A server event that must not throw: settling goes on even when the disk refuses the event itself. */
  function note(id: string, message: string): void {
    try {
      event(id, message);
    } catch (e) {
      opts.log?.error(`job ${id}: could not record the server event "${message}"`, e);
    }
  }

  /**
   * Appends the size-cap window, retrying with backoff until it is in the log: a job is never settled (and
   * so never archived or closed to viewers) with acknowledged lines still held back.
   */
  async function releaseWindow(id: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await cap!.release(
          id,
          (message) => event(id, message),
          (text, count) => appendEncoded(get(id)!, text, count, null, false),
        );
        return;
      } catch (e) {
        if (attempt === 0)
          note(id, `[limits] appending the size-cap window failed: ${(e as Error).message}; retrying`);
        await Bun.sleep(backoff(attempt + 1, { initial: 500, max: 60_000 }));
      }
    }
  }

  /** Runs the completion work of a terminal job (the size-cap window, then hooks), then marks it settled. */
  function settle(job: JobRow): Promise<void> {
    const running = settling.get(job.id);
    if (running) return running;
    const p = (async () => {
      // The window joins the log before hooks run, so they, the stream and the archive see it.
      if (cap?.started(job.id)) await releaseWindow(job.id);
      for (const fn of finishers) {
        try {
          await fn(job);
        } catch (e) {
          note(job.id, `[server] completion step failed: ${(e as Error).message}`);
        }
      }
      q.settle.run({ id: job.id, now: clock() });
      const settled = get(job.id)!;
      for (const fn of settledListeners) fn(settled);
    })()
      // Never an unhandled rejection (it would end the process): the job stays unsettled and is settled
      // again at the next start.
      .catch((e) => opts.log?.error(`job ${job.id}: settling failed`, e))
      .finally(() => settling.delete(job.id));
    settling.set(job.id, p);
    return p;
  }

  return {
    get,
    mustGet,
    ensure,
    push,
    event,
    complete,
    /** Terminal jobs whose completion work did not finish (a restart in between) are settled again. */
    async resumeUnsettled(): Promise<void> {
      await Promise.all(q.unsettled.all().map(settle));
    },
    /** Waits for every running settle (graceful shutdown). */
    idle: async (): Promise<void> => {
      await Promise.all([...settling.values()]);
    },
    register(
      id: string,
      fields: { workspace: string; task: string; created_at?: number | undefined },
    ): JobRow {
      const existing = get(id);
      if (!existing) {
        return ensure(id, {
          workspace: fields.workspace,
          task: fields.task,
          ...(fields.created_at !== undefined ? { created_at: fields.created_at } : {}),
        });
      }
      for (const fn of editGuards) fn(existing);
      return q.update.get({
        id,
        workspace: fields.workspace,
        task: fields.task,
        created_at: fields.created_at ?? existing.created_at,
        now: clock(),
      })!;
    },
    heartbeat(id: string): JobRow {
      mustGet(id);
      q.touch.run({ id, now: clock() });
      return mustGet(id);
    },
    /** Sparse index: the checkpoint at or before `line` (line 0 at offset 0 when there is none). */
    checkpoint(id: string, line: number): { line: number; offset: number } {
      return q.checkpoint.get(id, line) ?? { line: 0, offset: 0 };
    },
    list(filter: {
      status?: string;
      workspace?: string;
      task?: string;
      limit: number;
      before?: number;
    }): JobRow[] {
      const where: string[] = [];
      const params: Record<string, string | number> = { limit: filter.limit };
      for (const key of ["status", "workspace", "task"] as const) {
        const value = filter[key];
        if (value !== undefined) {
          where.push(`${key} = $${key}`);
          params[key] = value;
        }
      }
      if (filter.before !== undefined) {
        where.push("created_at < $before");
        params.before = filter.before;
      }
      const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
        ORDER BY created_at DESC, id DESC LIMIT $limit`;
      return db.sqlite.query<JobRow, Record<string, string | number>>(sql).all(params);
    },
    onAppend: (fn: (a: Appended) => void) => appendListeners.push(fn),
    onTerminal: (fn: (job: JobRow) => void) => terminalListeners.push(fn),
    onSettled: (fn: (job: JobRow) => void) => settledListeners.push(fn),
    addFinisher: (fn: (job: JobRow) => Promise<void>) => finishers.push(fn),
    /** A guard that may refuse edits of a job's identity (the archive refuses once a job is archived). */
    addEditGuard: (fn: (job: JobRow) => void) => editGuards.push(fn),
    /** A guard that may refuse an append (the archive, while it restores a local file removed after archival). */
    addAppendGuard: (fn: (job: JobRow) => void) => appendGuards.push(fn),
  };
}

/** A failed commit of a written batch: a full disk is a 507 like a failed file write; anything else a 503. */
function commitError(e: unknown, id: string): AppError {
  const code = (e as { code?: string }).code ?? "";
  if (code === "SQLITE_FULL") {
    return new AppError(507, "disk_full", `no space left to record the log of job ${id}; retry later`, {
      "Retry-After": "30",
    });
  }
  return new AppError(
    503,
    "storage_error",
    `recording the log of job ${id} failed: ${(e as Error).message}`,
    {
      "Retry-After": "5",
    },
  );
}
