// The durable archive queue: one row per job in its own SQLite table, written before every attempt.
import { addMissingColumns, type Db } from "../jobs/db.ts";

/**
 * `pending`: waiting for its first (or a new) upload; `uploading`: an attempt is running; `retrying`:
 * the last attempt failed, the next waits for its backoff; `uploaded`: its content verified and covering every line.
 */
export type ArchiveStateName = "pending" | "uploading" | "retrying" | "uploaded";

export interface ArchiveRow {
  job_id: string;
  key: string;
  state: ArchiveStateName;
  /** Attempts made, failed or not, over the job's life. */
  attempts: number;
  /** Failures since the last verified upload; drives the backoff and the once-only server event. */
  failures: number;
  last_error: string | null;
  /** When the last verified upload finished; null until one did. */
  uploaded_at: number | null;
  /** Size of the stored (compressed) object, as verified. */
  bytes: number;
  /** SHA-256 (hex) of the stored object, read back and compared with the bytes compressed; null until verified. */
  sha256: string | null;
  /** Log bytes the stored object holds: the job's committed bytes when the upload started. */
  log_bytes: number;
  next_attempt_at: number;
  /** 1 once the local file was removed after a verified upload (delete_local_after_archive). */
  local_deleted: number;
}

export type ArchiveState = ReturnType<typeof openArchiveState>;

export function openArchiveState(db: Db) {
  const { sqlite } = db;
  sqlite.run(`CREATE TABLE IF NOT EXISTS archives (
    job_id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    uploaded_at INTEGER,
    bytes INTEGER NOT NULL DEFAULT 0,
    log_bytes INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    local_deleted INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT
  ) WITHOUT ROWID`);
  addMissingColumns(sqlite, "archives", { sha256: "TEXT" });
  sqlite.run("CREATE INDEX IF NOT EXISTS archives_state ON archives (state)");

  const q = {
    get: sqlite.query<ArchiveRow, [string]>("SELECT * FROM archives WHERE job_id = ?"),
    insert: sqlite.query<null, { id: string; key: string; now: number }>(
      `INSERT INTO archives (job_id, key, state, next_attempt_at) VALUES ($id, $key, 'pending', $now)
       ON CONFLICT (job_id) DO NOTHING`,
    ),
    setState: sqlite.query<null, { id: string; state: string }>(
      "UPDATE archives SET state = $state WHERE job_id = $id",
    ),
    begin: sqlite.query<null, { id: string; key: string }>(
      "UPDATE archives SET state = 'uploading', key = $key, attempts = attempts + 1 WHERE job_id = $id",
    ),
    uploaded: sqlite.query<
      null,
      { id: string; state: string; bytes: number; sha256: string; log_bytes: number; now: number }
    >(`UPDATE archives SET state = $state, bytes = $bytes, sha256 = $sha256, log_bytes = $log_bytes, uploaded_at = $now,
         failures = 0, last_error = NULL, next_attempt_at = $now WHERE job_id = $id`),
    failed: sqlite.query<null, { id: string; error: string; next: number }>(
      `UPDATE archives SET state = 'retrying', failures = failures + 1, last_error = $error,
         next_attempt_at = $next WHERE job_id = $id`,
    ),
    localDeleted: sqlite.query<null, { id: string; deleted: number }>(
      "UPDATE archives SET local_deleted = $deleted WHERE job_id = $id",
    ),
    /** Archives with work left: not uploaded, or uploaded before late lines arrived. */
    unfinished: sqlite.query<ArchiveRow, []>(
      `SELECT a.* FROM archives a JOIN jobs j ON j.id = a.job_id
       WHERE a.state != 'uploaded' OR a.log_bytes < j.byte_count ORDER BY a.next_attempt_at`,
    ),
    /** Settled jobs the queue never saw (the process died between settling and enqueueing). */
    missing: sqlite.query<{ id: string }, []>(
      `SELECT j.id FROM jobs j LEFT JOIN archives a ON a.job_id = j.id
       WHERE j.settled_at IS NOT NULL AND a.job_id IS NULL ORDER BY j.settled_at`,
    ),
    waiting: sqlite.query<{ n: number }, []>("SELECT count(*) AS n FROM archives WHERE state != 'uploaded'"),
    counts: sqlite.query<{ state: ArchiveStateName; n: number }, []>(
      "SELECT state, count(*) AS n FROM archives GROUP BY state",
    ),
  };

  return {
    get: (id: string): ArchiveRow | null => q.get.get(id),
    /** Records the archive step before it starts; a second call for the same job changes nothing. */
    insert: (id: string, key: string, now: number) => q.insert.run({ id, key, now }),
    setState: (id: string, state: ArchiveStateName) => q.setState.run({ id, state }),
    begin: (id: string, key: string) => q.begin.run({ id, key }),
    uploaded: (
      id: string,
      r: { complete: boolean; bytes: number; sha256: string; log_bytes: number; now: number },
    ) =>
      q.uploaded.run({
        id,
        state: r.complete ? "uploaded" : "pending",
        bytes: r.bytes,
        sha256: r.sha256,
        log_bytes: r.log_bytes,
        now: r.now,
      }),
    failed: (id: string, error: string, next: number) => q.failed.run({ id, error, next }),
    setLocalDeleted: (id: string, deleted: boolean) => q.localDeleted.run({ id, deleted: deleted ? 1 : 0 }),
    unfinished: () => q.unfinished.all(),
    missing: () => q.missing.all().map((r) => r.id),
    waiting: () => q.waiting.get()!.n,
    /** Archives per state, every state present (for /api/stats). */
    counts(): Record<ArchiveStateName, number> {
      const out: Record<ArchiveStateName, number> = { pending: 0, uploading: 0, retrying: 0, uploaded: 0 };
      for (const r of q.counts.all()) out[r.state] = r.n;
      return out;
    },
  };
}
