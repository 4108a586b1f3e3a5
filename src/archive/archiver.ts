// The archiver: durable queue → gzip → upload → verify content → (maybe) delete local; retried until it succeeds.
import { open, rename, rm } from "node:fs/promises";
import { formatDuration } from "../config/units.ts";
import { backoff } from "../core/backoff.ts";
import { archiveKey } from "../core/key.ts";
import { iso } from "../core/time.ts";
import { AppError, conflict } from "../errors.ts";
import type { Db, JobRow } from "../jobs/db.ts";
import type { Jobs } from "../jobs/registry.ts";
import type { Logger } from "../log.ts";
import type { LogStore } from "../logs/store.ts";
import { isTerminal } from "../protocol/status.ts";
import { gzipFile } from "./gzip.ts";
import { type ArchiveRow, openArchiveState } from "./state.ts";
import { type ArchiveTarget, reason, TargetError } from "./target.ts";
import { createArchiveTier, gunzip } from "./tier.ts";
import { createDigester, verifyStored } from "./verify.ts";

export interface ArchiverOptions {
  db: Db;
  jobs: Jobs;
  store: LogStore;
  target: ArchiveTarget;
  log: Logger;
  prefix: string;
  /** Backoff between failed attempts: doubles from `initial`, capped at `max`. */
  retry: { initial: number; max: number };
  /** Quiet time after a late line before the archive is uploaded again. */
  rearchiveDelay: number;
  deleteLocal: boolean;
  concurrency?: number;
  clock?: () => number;
}

export type Archiver = ReturnType<typeof createArchiver>;

export function createArchiver(opts: ArchiverOptions) {
  const { jobs, store, target, log } = opts;
  const clock = opts.clock ?? Date.now;
  const state = openArchiveState(opts.db);
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  const running = new Map<string, Promise<void>>();
  const restoring = new Map<string, Promise<void>>();
  const aborts = new Set<AbortController>();
  const queue: Array<() => void> = [];
  let active = 0;
  let stopped = false;
  /** Last known reachability of the target; null until something was tried. */
  let trouble: string | null = null;
  let probeTimer: ReturnType<typeof setTimeout> | null = null;

  function schedule(id: string, delay: number): void {
    if (stopped) return;
    const prev = timers.get(id);
    if (prev !== undefined) clearTimeout(prev);
    timers.set(
      id,
      setTimeout(
        () => {
          timers.delete(id);
          run(id);
        },
        Math.max(0, delay),
      ),
    );
  }

  /** At most `concurrency` uploads at once; the rest wait their turn. */
  async function slot<T>(fn: () => Promise<T>): Promise<T> {
    if (active >= (opts.concurrency ?? 4)) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  }

  function run(id: string): void {
    // An attempt already running re-checks the committed size when it ends.
    if (running.has(id) || stopped) return;
    const p = slot(() => attempt(id)).finally(() => running.delete(id));
    running.set(id, p);
  }

  async function attempt(id: string): Promise<void> {
    const job = jobs.get(id);
    const row = state.get(id);
    if (!job || !row || stopped) return;
    const end = job.byte_count;
    if (row.uploaded_at !== null && row.log_bytes === end) {
      if (row.state !== "uploaded") state.setState(id, "uploaded");
      return;
    }
    // The key is fixed by the first verified upload; until then a PUT may still fix workspace or task.
    const key = row.uploaded_at === null ? archiveKey(opts.prefix, job) : row.key;
    state.begin(id, key);
    const abort = new AbortController();
    aborts.add(abort);
    const started = clock();
    try {
      const size = store.size(id);
      if (end > 0 && (size === null || size < end)) {
        throw new Error(`local log holds ${size ?? 0} bytes but ${end} were committed`);
      }
      const sent = createDigester();
      const hashed = (async function* () {
        for await (const part of gzipFile(store.jsonlPath(id), end)) {
          sent.update(part);
          yield part;
        }
      })();
      await target.put(key, hashed, abort.signal);
      // Counts as uploaded only once the stored bytes are the compressed bytes: a mismatch is a failed attempt.
      const { bytes, sha256 } = await verifyStored(target, key, sent.digest(), abort.signal);
      const now = clock();
      const fresh = jobs.get(id) ?? job;
      const complete = fresh.byte_count === end;
      state.uploaded(id, { complete, bytes, sha256, log_bytes: end, now });
      trouble = null;
      const secs = Math.max(now - started, 1) / 1000;
      log.info(
        `archive: job ${id}: ${end} log bytes → ${bytes} bytes at ${target.locate(key)} in ${secs.toFixed(1)} s (${(end / 1e6 / secs).toFixed(0)} MB/s)`,
      );
      if (complete && opts.deleteLocal && end > 0) {
        // Synchronous from the check above to here: no append can slip in between.
        store.remove(id);
        state.setLocalDeleted(id, true);
      }
      if (!complete) {
        state.setState(id, "pending");
        schedule(id, opts.rearchiveDelay);
      }
    } catch (e) {
      if (stopped && abort.signal.aborted) {
        state.setState(id, "pending");
        return;
      }
      failed(id, key, row, e);
    } finally {
      aborts.delete(abort);
    }
  }

  function failed(id: string, key: string, row: ArchiveRow, e: unknown): void {
    const message = reason(e);
    const failures = row.failures + 1;
    const wait = backoff(failures, opts.retry);
    state.failed(id, message, clock() + wait);
    if (e instanceof TargetError && e.kind !== "other") trouble = message;
    log.warn(
      `archive: job ${id}: upload ${row.attempts + 1} to ${target.locate(key)} failed: ${message}; retrying in ${formatDuration(wait)}`,
    );
    if (failures === 1) {
      // Once per outage, not per retry: the log would otherwise fill with the same line.
      try {
        jobs.event(
          id,
          `[archive] upload to ${target.locate(key)} failed: ${message}; retrying with backoff (at most ${formatDuration(opts.retry.max)} apart) until it succeeds`,
        );
      } catch (err) {
        log.warn(`archive: job ${id}: could not record the failure as a server event: ${reason(err)}`);
      }
    }
    schedule(id, wait);
  }

  /** Brings back the local file of an archived job (removed after archival) so a late line can append. */
  function restore(id: string): Promise<void> {
    const running = restoring.get(id);
    if (running) return running;
    const p = (async () => {
      const row = state.get(id);
      if (!row || row.local_deleted === 0) return;
      const path = store.jsonlPath(id);
      const tmp = `${path}.restoring-${crypto.randomUUID().slice(0, 8)}`;
      const fh = await open(tmp, "w");
      try {
        try {
          const body = await target.get(row.key, "archiver");
          const why = (w: string) =>
            new Error(`restoring the local log of job ${id} from ${target.locate(row.key)}: ${w}`);
          for await (const chunk of gunzip(body, row.log_bytes, why)) {
            let written = 0;
            while (written < chunk.length) written += (await fh.write(chunk, written)).bytesWritten;
          }
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, path);
        state.setLocalDeleted(id, false);
        log.info(`archive: job ${id}: local log restored from ${target.locate(row.key)} for a late line`);
      } catch (e) {
        await rm(tmp, { force: true });
        log.warn(`archive: job ${id}: ${reason(e)}`);
      }
    })().finally(() => restoring.delete(id));
    restoring.set(id, p);
    return p;
  }

  function probe(): void {
    if (stopped) return;
    void target.check({ write: false }).then((problem) => {
      if (problem === null) {
        if (trouble !== null) log.info(`archive: ${target.where} reachable again`);
        trouble = null;
        return;
      }
      if (trouble === null) log.warn(`archive: ${problem}; archives wait in the queue until it is back`);
      trouble = problem;
      if (!stopped) {
        probeTimer = setTimeout(probe, opts.retry.max);
        probeTimer.unref?.();
      }
    });
  }

  /** A settled job enters the queue; recorded before the first attempt, so a restart resumes it. */
  function enqueue(job: JobRow): void {
    state.insert(job.id, archiveKey(opts.prefix, job), clock());
    run(job.id);
  }

  return {
    state,
    tier: createArchiveTier({ state, target }),
    enqueue,

    /** Called after every committed append: lines after the upload re-upload the same key, debounced. */
    noteAppend(job: JobRow): void {
      if (!isTerminal(job.status)) return;
      const row = state.get(job.id);
      if (row?.state !== "uploaded" || row.log_bytes >= job.byte_count) return;
      // pending/uploading/retrying: the next attempt takes the new lines anyway.
      state.setState(job.id, "pending");
      schedule(job.id, opts.rearchiveDelay);
    },

    /** Refuses a late line while the local file is gone, and starts bringing it back from the archive. */
    guardAppend(job: JobRow): void {
      if (!isTerminal(job.status)) return;
      const row = state.get(job.id);
      if (row === null || row.local_deleted === 0) return;
      void restore(job.id);
      throw new AppError(
        503,
        "restoring_local_log",
        `job ${job.id}: the local log was removed after archival and is being restored from ${target.locate(row.key)}; retry in a moment`,
        { "Retry-After": "1" },
      );
    },

    /** The archive key follows workspace, task and created_at: once uploaded, they are fixed. */
    guardEdit(job: JobRow): void {
      const row = state.get(job.id);
      if (row !== null && (row.uploaded_at !== null || row.state === "uploading")) {
        throw conflict(
          `job ${job.id} ${row.uploaded_at === null ? "is being archived" : "is archived"} at ${target.locate(row.key)}; its workspace, task and created_at can no longer change`,
          "archived",
        );
      }
    },

    /** The `archive` field of `GET /api/jobs/{id}`. */
    view(job: JobRow): Record<string, unknown> {
      const row = state.get(job.id);
      if (row === null) return { archive: null };
      return {
        archive: {
          state: row.state,
          key: row.key,
          attempts: row.attempts,
          last_error: row.last_error,
          uploaded_at: iso(row.uploaded_at),
          bytes: row.bytes,
          sha256: row.sha256,
          log_bytes: row.log_bytes,
          next_attempt_at: row.state === "retrying" ? iso(row.next_attempt_at) : null,
          local_deleted: row.local_deleted === 1,
        },
      };
    },

    /** True while an upload or a restore of this job runs (retention leaves such a job for the next sweep). */
    busy: (id: string): boolean => running.has(id) || restoring.has(id),

    /** The `archive` section of `GET /api/stats`. */
    stats(): Record<string, unknown> {
      return {
        target: target.where,
        queue: state.counts(),
        problem: trouble,
        ...(target.readStats ? { reads: target.readStats() } : {}),
      };
    },

    /** For /readyz: null while the target answers. */
    readyCheck(): string | null {
      if (trouble === null) return null;
      return `archive: ${trouble} (${state.waiting()} archives waiting)`;
    },

    /** Start-up: resumes unfinished archives (at their backoff time) and enqueues settled jobs never queued. */
    resume(): number {
      const now = clock();
      const unfinished = state.unfinished();
      for (const row of unfinished)
        schedule(row.job_id, row.state === "retrying" ? row.next_attempt_at - now : 0);
      const missing = state.missing();
      for (const id of missing) {
        const job = jobs.get(id);
        if (job) enqueue(job);
      }
      const n = unfinished.length + missing.length;
      if (n > 0) log.info(`archive: resuming ${n} pending archives to ${target.where}`);
      probe();
      return n;
    },

    /** Resolves once no upload or restore is running (tests, shutdown). */
    async idle(): Promise<void> {
      while (running.size > 0 || restoring.size > 0) {
        await Promise.allSettled([...running.values(), ...restoring.values()]);
      }
    },

    /** Shutdown: no new attempts; running uploads are aborted and stay queued for the next start. */
    async stop(): Promise<void> {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      if (probeTimer !== null) clearTimeout(probeTimer);
      for (const a of aborts) a.abort();
      await Promise.allSettled([...running.values(), ...restoring.values()]);
    },
  };
}
