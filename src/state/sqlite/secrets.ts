// SQLite: the registered secrets of jobs — sealed values (or only their count), deleted when the job ends.
import type { Database } from "bun:sqlite";
import type { SecretsRepository, SecretsRow } from "../types.ts";
import { stateError } from "./common.ts";

export function sqliteSecrets(db: Database): SecretsRepository {
  const q = {
    all: db.query<SecretsRow, []>(
      "SELECT job_id, count, sealed, forgotten_at, updated_at FROM job_secrets ORDER BY job_id",
    ),
    put: db.query<null, SecretsRow>(
      `INSERT OR REPLACE INTO job_secrets (job_id, count, sealed, forgotten_at, updated_at)
       VALUES ($job_id, $count, $sealed, $forgotten_at, $updated_at)`,
    ),
    forget: db.query<null, { id: string; now: number }>(
      "UPDATE job_secrets SET sealed = NULL, forgotten_at = $now, updated_at = $now WHERE job_id = $id",
    ),
    drop: db.query<null, [string]>("DELETE FROM job_secrets WHERE job_id = ?"),
  };
  const run = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      throw stateError(e);
    }
  };
  return {
    all: async () =>
      run(() => q.all.all()).map((r) => ({
        ...r,
        sealed: r.sealed === null ? null : new Uint8Array(r.sealed),
      })),
    put: async (row) => {
      run(() => q.put.run(row));
    },
    forget: async (jobId, now) => {
      run(() => q.forget.run({ id: jobId, now }));
    },
    drop: async (jobId) => {
      run(() => q.drop.run(jobId));
    },
  };
}
