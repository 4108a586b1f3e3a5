// Retention's SQL: candidate jobs by age (keyset pages), whole-job deletion, and the queue of archive objects to delete.
import { openArchiveState } from "../archive/state.ts";
import type { Db } from "../jobs/db.ts";

export interface Candidate {
  id: string;
  finished_at: number;
}

export interface PendingObject {
  key: string;
  job_id: string;
  queued_at: number;
  attempts: number;
  last_error: string | null;
}

/** Keyset cursor over (finished_at, id): a page never revisits a job, whatever the previous page did. */
export interface Cursor {
  at: number;
  id: string;
}

export const START: Cursor = { at: Number.MIN_SAFE_INTEGER, id: "" };

export type RetentionState = ReturnType<typeof openRetentionState>;

export function openRetentionState(db: Db) {
  const { sqlite } = db;
  // The archive's table may not exist yet (no archive configured): create it so the joins below work.
  const archives = openArchiveState(db);
  sqlite.run("CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (finished_at, id)");
  sqlite.run("CREATE INDEX IF NOT EXISTS archives_key ON archives (key)");
  // Written in the same transaction that deletes the job's rows, so an object is never forgotten.
  sqlite.run(`CREATE TABLE IF NOT EXISTS retention_objects (
    key TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    queued_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
  ) WITHOUT ROWID`);

  type Page = { before: number; at: number; id: string; limit: number };
  const q = {
    /** Settled jobs whose verified archive covers every committed byte and whose local file is still there. */
    localPage: sqlite.query<Candidate, Page>(
      `SELECT j.id, j.finished_at FROM jobs j JOIN archives a ON a.job_id = j.id
       WHERE j.finished_at < $before AND (j.finished_at, j.id) > ($at, $id) AND j.settled_at IS NOT NULL
         AND a.state = 'uploaded' AND a.log_bytes = j.byte_count AND a.local_deleted = 0
       ORDER BY j.finished_at, j.id LIMIT $limit`,
    ),
    /** Old enough, local file still there, but no verified archive covering it: kept. */
    held: sqlite.query<{ n: number }, { before: number }>(
      `SELECT count(*) AS n FROM jobs j LEFT JOIN archives a ON a.job_id = j.id
       WHERE j.finished_at < $before AND coalesce(a.local_deleted, 0) = 0
         AND (a.job_id IS NULL OR a.state != 'uploaded' OR a.log_bytes != j.byte_count)`,
    ),
    /**
     * Settled jobs past the cutoff. With an archive (`$archived` 1) only those whose archive was verified
     * at least once: a job whose archive never went up keeps its only copy, the local file, until it does.
     */
    expirePage: sqlite.query<Candidate, Page & { archived: number }>(
      `SELECT j.id, j.finished_at FROM jobs j LEFT JOIN archives a ON a.job_id = j.id
       WHERE j.finished_at < $before AND (j.finished_at, j.id) > ($at, $id) AND j.settled_at IS NOT NULL
         AND ($archived = 0 OR a.uploaded_at IS NOT NULL)
       ORDER BY j.finished_at, j.id LIMIT $limit`,
    ),
    queueObject: sqlite.query<null, { key: string; id: string; now: number }>(
      "INSERT OR IGNORE INTO retention_objects (key, job_id, queued_at) VALUES ($key, $id, $now)",
    ),
    deleteArchive: sqlite.query<null, [string]>("DELETE FROM archives WHERE job_id = ?"),
    objectsPage: sqlite.query<PendingObject, { after: string; limit: number }>(
      "SELECT * FROM retention_objects WHERE key > $after ORDER BY key LIMIT $limit",
    ),
    objectFailed: sqlite.query<null, { key: string; error: string }>(
      "UPDATE retention_objects SET attempts = attempts + 1, last_error = $error WHERE key = $key",
    ),
    dropObject: sqlite.query<null, [string]>("DELETE FROM retention_objects WHERE key = ?"),
    keyLive: sqlite.query<{ job_id: string }, [string]>("SELECT job_id FROM archives WHERE key = ? LIMIT 1"),
    pending: sqlite.query<{ n: number }, []>("SELECT count(*) AS n FROM retention_objects"),
  };

  /** Deletes the job's rows (job, idempotency keys, line index, archive) and queues its archive object. */
  const forget = sqlite.transaction((id: string, now: number) => {
    const archive = archives.get(id);
    if (archive !== null) {
      q.queueObject.run({ key: archive.key, id, now });
      q.deleteArchive.run(id);
    }
    db.q.deleteBatches.run(id);
    db.q.deleteIndex.run(id);
    db.q.deleteJob.run(id);
  });

  return {
    archives,
    localPage: (before: number, c: Cursor, limit: number) => q.localPage.all({ before, ...c, limit }),
    expirePage: (before: number, c: Cursor, limit: number, archived: boolean) =>
      q.expirePage.all({ before, ...c, limit, archived: archived ? 1 : 0 }),
    held: (before: number) => q.held.get({ before })!.n,
    forget: (id: string, now: number) => forget(id, now),
    objectsPage: (after: string, limit: number) => q.objectsPage.all({ after, limit }),
    objectFailed: (key: string, error: string) => q.objectFailed.run({ key, error }),
    dropObject: (key: string) => q.dropObject.run(key),
    /** True when a live job's archive uses this key (a job re-created under the same id): not ours to delete. */
    keyLive: (key: string) => q.keyLive.get(key) !== null,
    pendingObjects: () => q.pending.get()!.n,
  };
}
