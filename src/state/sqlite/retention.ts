// SQLite: retention's candidates by age (keyset pages), whole-job deletion, and the queue of archive objects to delete.
import type { Database } from "bun:sqlite";
import type { Candidate, PendingObject, RetentionRepository } from "../types.ts";

export function sqliteRetention(db: Database): RetentionRepository {
  type Page = { before: number; at: number; id: string; limit: number };
  const q = {
    localPage: db.query<Candidate, Page>(
      `SELECT j.id, j.finished_at FROM jobs j JOIN archives a ON a.job_id = j.id
       WHERE j.finished_at < $before AND (j.finished_at, j.id) > ($at, $id) AND j.settled_at IS NOT NULL
         AND a.state = 'uploaded' AND a.log_bytes = j.byte_count AND a.local_deleted = 0
       ORDER BY j.finished_at, j.id LIMIT $limit`,
    ),
    held: db.query<{ n: number }, { before: number }>(
      `SELECT count(*) AS n FROM jobs j LEFT JOIN archives a ON a.job_id = j.id
       WHERE j.finished_at < $before AND coalesce(a.local_deleted, 0) = 0
         AND (a.job_id IS NULL OR a.state != 'uploaded' OR a.log_bytes != j.byte_count)`,
    ),
    expirePage: db.query<Candidate, Page & { archived: number }>(
      `SELECT j.id, j.finished_at FROM jobs j LEFT JOIN archives a ON a.job_id = j.id
       WHERE j.finished_at < $before AND (j.finished_at, j.id) > ($at, $id) AND j.settled_at IS NOT NULL
         AND ($archived = 0 OR a.uploaded_at IS NOT NULL)
       ORDER BY j.finished_at, j.id LIMIT $limit`,
    ),
    archiveKey: db.query<{ key: string }, [string]>("SELECT key FROM archives WHERE job_id = ?"),
    queueObject: db.query<null, { key: string; id: string; now: number }>(
      "INSERT OR IGNORE INTO retention_objects (key, job_id, queued_at) VALUES ($key, $id, $now)",
    ),
    deleteArchive: db.query<null, [string]>("DELETE FROM archives WHERE job_id = ?"),
    deleteBatches: db.query<null, [string]>("DELETE FROM batches WHERE job_id = ?"),
    deleteIndex: db.query<null, [string]>("DELETE FROM line_index WHERE job_id = ?"),
    deleteJob: db.query<null, [string]>("DELETE FROM jobs WHERE id = ?"),
    objectsPage: db.query<PendingObject, { after: string; limit: number }>(
      "SELECT * FROM retention_objects WHERE key > $after ORDER BY key LIMIT $limit",
    ),
    objectFailed: db.query<null, { key: string; error: string }>(
      "UPDATE retention_objects SET attempts = attempts + 1, last_error = $error WHERE key = $key",
    ),
    dropObject: db.query<null, [string]>("DELETE FROM retention_objects WHERE key = ?"),
    keyLive: db.query<{ job_id: string }, [string]>("SELECT job_id FROM archives WHERE key = ? LIMIT 1"),
    pending: db.query<{ n: number }, []>("SELECT count(*) AS n FROM retention_objects"),
  };

  // Written in one commit: the object is queued as the rows that name it go, so it is never forgotten.
  const forget = db.transaction((id: string, now: number) => {
    const archive = q.archiveKey.get(id);
    if (archive !== null) {
      q.queueObject.run({ key: archive.key, id, now });
      q.deleteArchive.run(id);
    }
    q.deleteBatches.run(id);
    q.deleteIndex.run(id);
    q.deleteJob.run(id);
  });

  return {
    localPage: async (before, c, limit) => q.localPage.all({ before, ...c, limit }),
    held: async (before) => q.held.get({ before })!.n,
    expirePage: async (before, c, limit, archived) =>
      q.expirePage.all({ before, ...c, limit, archived: archived ? 1 : 0 }),
    forget: async (id, now) => {
      forget(id, now);
    },
    objectsPage: async (after, limit) => q.objectsPage.all({ after, limit }),
    objectFailed: async (key, error) => {
      q.objectFailed.run({ key, error });
    },
    dropObject: async (key) => {
      q.dropObject.run(key);
    },
    keyLive: async (key) => q.keyLive.get(key) !== null,
    pendingObjects: async () => q.pending.get()!.n,
  };
}
