// SQLite: the durable archive queue, one row per job.
import type { Database } from "bun:sqlite";
import type { ArchiveRow, ArchiveStateName, ArchivesRepository } from "../types.ts";

export function sqliteArchives(db: Database): ArchivesRepository {
  const q = {
    get: db.query<ArchiveRow, [string]>("SELECT * FROM archives WHERE job_id = ?"),
    insert: db.query<null, { id: string; key: string; now: number }>(
      `INSERT INTO archives (job_id, key, state, next_attempt_at) VALUES ($id, $key, 'pending', $now)
       ON CONFLICT (job_id) DO NOTHING`,
    ),
    setState: db.query<null, { id: string; state: string }>(
      "UPDATE archives SET state = $state WHERE job_id = $id",
    ),
    begin: db.query<null, { id: string; key: string }>(
      "UPDATE archives SET state = 'uploading', key = $key, attempts = attempts + 1 WHERE job_id = $id",
    ),
    claim: db.query<null, { id: string; key: string }>(
      "UPDATE archives SET claimed_key = $key WHERE job_id = $id",
    ),
    uploaded: db.query<
      null,
      { id: string; state: string; bytes: number; sha256: string; log_bytes: number; now: number }
    >(`UPDATE archives SET state = $state, bytes = $bytes, sha256 = $sha256, log_bytes = $log_bytes, uploaded_at = $now,
         failures = 0, last_error = NULL, next_attempt_at = $now WHERE job_id = $id`),
    failed: db.query<null, { id: string; error: string; next: number }>(
      `UPDATE archives SET state = 'retrying', failures = failures + 1, last_error = $error,
         next_attempt_at = $next WHERE job_id = $id`,
    ),
    localDeleted: db.query<null, { id: string; deleted: number }>(
      "UPDATE archives SET local_deleted = $deleted WHERE job_id = $id",
    ),
    unfinished: db.query<ArchiveRow, []>(
      `SELECT a.* FROM archives a JOIN jobs j ON j.id = a.job_id
       WHERE a.state != 'uploaded' OR a.log_bytes < j.byte_count ORDER BY a.next_attempt_at`,
    ),
    missing: db.query<{ id: string }, []>(
      `SELECT j.id FROM jobs j LEFT JOIN archives a ON a.job_id = j.id
       WHERE j.settled_at IS NOT NULL AND a.job_id IS NULL ORDER BY j.settled_at`,
    ),
    waiting: db.query<{ n: number }, []>("SELECT count(*) AS n FROM archives WHERE state != 'uploaded'"),
    counts: db.query<{ state: ArchiveStateName; n: number }, []>(
      "SELECT state, count(*) AS n FROM archives GROUP BY state",
    ),
  };

  return {
    get: async (id) => q.get.get(id),
    enqueue: async (id, key, now) => {
      q.insert.run({ id, key, now });
    },
    setState: async (id, state) => {
      q.setState.run({ id, state });
    },
    begin: async (id, key) => {
      q.begin.run({ id, key });
    },
    claim: async (id, key) => {
      q.claim.run({ id, key });
    },
    uploaded: async (id, r) => {
      q.uploaded.run({
        id,
        state: r.complete ? "uploaded" : "pending",
        bytes: r.bytes,
        sha256: r.sha256,
        log_bytes: r.log_bytes,
        now: r.now,
      });
    },
    failed: async (id, error, next) => {
      q.failed.run({ id, error, next });
    },
    setLocalDeleted: async (id, deleted) => {
      q.localDeleted.run({ id, deleted: deleted ? 1 : 0 });
    },
    unfinished: async () => q.unfinished.all(),
    missing: async () => q.missing.all().map((r) => r.id),
    waiting: async () => q.waiting.get()!.n,
    async counts() {
      const out: Record<ArchiveStateName, number> = { pending: 0, uploading: 0, retrying: 0, uploaded: 0 };
      for (const r of q.counts.all()) out[r.state] = r.n;
      return out;
    },
  };
}
