// SQLite: the size-cap windows of jobs past their cap.
import type { Database } from "bun:sqlite";
import type { CapsRepository, CapWindow } from "../types.ts";
import { type Caps, stateError } from "./common.ts";

export function sqliteCaps(db: Database, caps: Caps): CapsRepository {
  const q = {
    get: db.query<CapWindow, [string]>("SELECT * FROM job_caps WHERE job_id = ?"),
    ids: db.query<{ job_id: string }, []>("SELECT job_id FROM job_caps"),
    drop: db.query<null, [string]>("DELETE FROM job_caps WHERE job_id = ?"),
    addBatch: db.query<null, [string, string, number, number, number, number]>(
      "INSERT INTO batches (job_id, key, first, next, truncated, held) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    touch: db.query<null, { id: string; now: number }>(
      "UPDATE jobs SET last_activity_at = $now WHERE id = $id",
    ),
  };
  const hold = db.transaction((c: Parameters<CapsRepository["hold"]>[0]) => {
    caps.put(c.window);
    if (c.key !== undefined) {
      const a = c.key.answer;
      q.addBatch.run(c.window.job_id, c.key.key, a.first, a.next, a.truncated, a.held);
    }
    q.touch.run({ id: c.window.job_id, now: c.now });
  });
  return {
    ids: async () => q.ids.all().map((r) => r.job_id),
    get: async (jobId) => q.get.get(jobId),
    async put(window) {
      try {
        caps.put(window);
      } catch (e) {
        throw stateError(e);
      }
    },
    async hold(c) {
      try {
        hold(c);
      } catch (e) {
        throw stateError(e);
      }
    },
    drop: async (jobId) => {
      q.drop.run(jobId);
    },
  };
}
