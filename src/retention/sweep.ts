// The retention sweep: at start-up and every interval, deletes what is old enough, in bounded batches.
import { rmSync } from "node:fs";
import { indexKeyOf } from "../archive/seek-index.ts";
import { type ArchiveTarget, reason, TargetError } from "../archive/target.ts";
import { formatDuration } from "../config/units.ts";
import { describe, plan, type RetentionConfig } from "../core/policy.ts";
import { iso } from "../core/time.ts";
import type { Events } from "../events.ts";
import type { Registry } from "../jobs/registry.ts";
import type { Logger } from "../log.ts";
import type { LogStore } from "../logs/store.ts";
import { type Cursor, type Repositories, START } from "../state/types.ts";

export interface RetentionOptions {
  state: Pick<Repositories, "retention" | "archives">;
  registry: Pick<Registry, "get" | "exclusive">;
  store: LogStore;
  events: Events;
  log: Logger;
  config: RetentionConfig & { sweep_interval: number; batch_size: number };
  /** The configured archive: where objects are deleted, and whether an upload of a job is running. */
  archive: { target: ArchiveTarget; busy(id: string): boolean } | null;
  clock?: () => number;
}

export interface SweepReport {
  started_at: number;
  finished_at: number;
  /** Local files removed (archived jobs' files, and the files of deleted jobs). */
  files_deleted: number;
  /** Archive objects removed. */
  objects_deleted: number;
  /** Jobs deleted whole: row, idempotency keys, line index. */
  rows_deleted: number;
  errors: number;
  /** Jobs skipped this time because an upload or restore of them was running. */
  deferred: number;
  /** Local files old enough to go but kept because their archive is not verified. */
  held_unarchived: number;
  last_error: string | null;
}

export type Retention = ReturnType<typeof createRetention>;

/** Deletions of one kind run this many at once against the archive target. */
const OBJECT_CONCURRENCY = 8;

export function createRetention(opts: RetentionOptions) {
  const { registry, store, log, config, archive, events } = opts;
  const { retention: state, archives } = opts.state;
  const clock = opts.clock ?? Date.now;
  const enabled = config.local_days !== undefined || config.archive_days !== undefined;
  const totals = { sweeps: 0, files_deleted: 0, objects_deleted: 0, rows_deleted: 0, errors: 0 };
  let last: SweepReport | null = null;
  let running: Promise<SweepReport> | null = null;
  let timer: ReturnType<typeof setInterval> | null = null;
  let stopped = false;

  // Between batches: requests queued meanwhile run before the next batch.
  const breathe = () => new Promise<void>((r) => setImmediate(r));

  function fail(r: SweepReport, message: string): void {
    r.errors++;
    r.last_error = message;
    log.warn(`retention: ${message}`);
  }

  /** Removes the local file of each old job whose archive is verified; the archive then serves its reads. */
  async function freeLocal(before: number, r: SweepReport): Promise<void> {
    let cursor: Cursor = START;
    while (!stopped) {
      const page = await state.localPage(before, cursor, config.batch_size);
      if (page.length === 0) break;
      for (const { id, finished_at } of page) {
        cursor = { at: finished_at, id };
        // Re-checked in the job's turn right before removal: no append or upload can slip in between.
        await registry.exclusive(id, async () => {
          const job = await registry.get(id);
          const row = await archives.get(id);
          if (
            !job ||
            !row ||
            row.state !== "uploaded" ||
            row.log_bytes !== job.byte_count ||
            row.local_deleted
          )
            return;
          if (archive!.busy(id)) {
            r.deferred++;
            return;
          }
          const existed = store.size(id) !== null;
          try {
            store.remove(id);
          } catch (e) {
            fail(r, `job ${id}: removing the local log failed: ${reason(e)}`);
            return;
          }
          // A late line now finds local_deleted and brings the file back from the archive first.
          await archives.setLocalDeleted(id, true);
          if (existed) {
            r.files_deleted++;
            events.emit("retention.deleted", { kind: "file", job: id, key: null });
          }
        });
      }
      await breathe();
    }
  }

  /** Deletes old jobs whole: files first (a crash in between leaves a row to retry, never an orphan file). */
  async function expire(before: number, r: SweepReport): Promise<void> {
    let cursor: Cursor = START;
    while (!stopped) {
      const page = await state.expirePage(before, cursor, config.batch_size, archive !== null);
      if (page.length === 0) break;
      for (const { id, finished_at } of page) {
        cursor = { at: finished_at, id };
        // In the job's turn: a late line either lands before (and goes with the job) or finds no job.
        await registry.exclusive(id, async () => {
          if (archive?.busy(id)) {
            r.deferred++;
            return;
          }
          const existed = store.size(id) !== null || store.hasLegacy(id);
          try {
            store.remove(id);
            rmSync(store.legacyPath(id), { force: true });
          } catch (e) {
            fail(r, `job ${id}: removing the local log failed: ${reason(e)}`);
            return;
          }
          await state.forget(id, clock());
          r.rows_deleted++;
          if (existed) r.files_deleted++;
          events.emit("retention.deleted", { kind: "job", job: id, key: null });
        });
      }
      await breathe();
    }
  }

  /** Deletes queued archive objects; those that fail stay queued for the next sweep. */
  async function deleteObjects(target: ArchiveTarget, r: SweepReport): Promise<void> {
    let after = "";
    let unreachable = false;
    while (!stopped && !unreachable) {
      const page = await state.objectsPage(after, config.batch_size);
      if (page.length === 0) break;
      after = page[page.length - 1]!.key;
      for (let i = 0; i < page.length && !unreachable; i += OBJECT_CONCURRENCY) {
        await Promise.all(
          page.slice(i, i + OBJECT_CONCURRENCY).map(async (o) => {
            if (await state.keyLive(o.key)) {
              await state.dropObject(o.key);
              return;
            }
            try {
              // The index first: a failure then leaves an archive that still reads (whole), never a lone index.
              await target.delete(indexKeyOf(o.key));
              await target.delete(o.key);
              await state.dropObject(o.key);
              r.objects_deleted++;
              events.emit("retention.deleted", { kind: "object", job: o.job_id, key: o.key });
            } catch (e) {
              await state.objectFailed(o.key, reason(e));
              fail(r, `deleting ${target.locate(o.key)} of deleted job ${o.job_id} failed: ${reason(e)}`);
              // The rest would fail the same way: they wait for the next sweep.
              if (e instanceof TargetError && e.kind !== "other") unreachable = true;
            }
          }),
        );
      }
    }
  }

  async function run(now: number): Promise<SweepReport> {
    const r: SweepReport = {
      started_at: now,
      finished_at: now,
      files_deleted: 0,
      objects_deleted: 0,
      rows_deleted: 0,
      errors: 0,
      deferred: 0,
      held_unarchived: 0,
      last_error: null,
    };
    try {
      const p = plan(config, archive !== null, now);
      if (p.localBefore !== null) {
        await freeLocal(p.localBefore, r);
        r.held_unarchived = await state.held(p.localBefore);
      }
      if (p.expireBefore !== null) await expire(p.expireBefore, r);
      if (archive !== null) await deleteObjects(archive.target, r);
    } catch (e) {
      fail(r, `sweep stopped: ${reason(e)}`);
    }
    r.finished_at = clock();
    totals.sweeps++;
    totals.files_deleted += r.files_deleted;
    totals.objects_deleted += r.objects_deleted;
    totals.rows_deleted += r.rows_deleted;
    totals.errors += r.errors;
    last = r;
    events.emit("retention.swept", {
      ms: r.finished_at - r.started_at,
      files_deleted: r.files_deleted,
      rows_deleted: r.rows_deleted,
      objects_deleted: r.objects_deleted,
      errors: r.errors,
      deferred: r.deferred,
    });
    if (
      r.files_deleted + r.objects_deleted + r.rows_deleted + r.errors + r.deferred > 0 ||
      r.held_unarchived > 0
    ) {
      log.info(
        `retention: swept in ${r.finished_at - r.started_at} ms: ${r.files_deleted} local files, ` +
          `${r.rows_deleted} jobs and ${r.objects_deleted} archive objects deleted, ${r.errors} errors` +
          (r.deferred > 0 ? `, ${r.deferred} jobs left for the next sweep (upload running)` : "") +
          (r.held_unarchived > 0
            ? `; ${r.held_unarchived} local files kept: their archive is not verified`
            : ""),
      );
    }
    return r;
  }

  /** Runs one sweep as of `now` (tests pass a later time); a sweep already running is joined. */
  function sweep(now = clock()): Promise<SweepReport> {
    running ??= run(now).finally(() => {
      running = null;
    });
    return running;
  }

  return {
    sweep,

    /** The start-up sweep, then one every `sweep_interval`. */
    start(): void {
      if (!enabled || timer !== null) return;
      for (const line of describe(config, archive !== null)) log.info(`retention: ${line}`);
      void sweep();
      timer = setInterval(() => void sweep(), config.sweep_interval);
    },

    async stop(): Promise<void> {
      stopped = true;
      if (timer !== null) clearInterval(timer);
      timer = null;
      await running;
    },

    /** The `retention` section of `GET /api/stats`. */
    async stats(): Promise<Record<string, unknown>> {
      return {
        local_days: config.local_days ?? null,
        archive_days: config.archive_days ?? null,
        sweep_interval: enabled ? formatDuration(config.sweep_interval) : null,
        running: running !== null,
        last_sweep:
          last === null
            ? null
            : {
                ...last,
                started_at: iso(last.started_at),
                finished_at: iso(last.finished_at),
              },
        totals: { ...totals },
        objects_pending: await state.pendingObjects(),
      };
    },
  };
}
