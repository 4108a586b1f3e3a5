// SQLite: job rows, idempotency keys and the sparse line index — the tables the ingest path commits to.
import type { Database } from "bun:sqlite";
import type { Job } from "../../core/job.ts";
import { STATUSES } from "../../protocol/status.ts";
import type {
  AppendCommit,
  IdempotencyRepository,
  JobFilter,
  JobsRepository,
  LineIndexRepository,
} from "../types.ts";
import { type Caps, stateError } from "./common.ts";
import { groupCommit } from "./group-commit.ts";

/** The job's columns, without the line index's bookkeeping (`ckpt_line`, `ckpt_offset`). */
const JOB = `id, workspace, task, status, created_at, updated_at, finished_at, last_activity_at, error,
  line_count, byte_count, late_lines, settled_at`;

export function sqliteJobs(
  db: Database,
  caps: Caps,
): {
  jobs: JobsRepository;
  idempotency: IdempotencyRepository;
  lineIndex: LineIndexRepository;
  /** Commits the appends waiting for their group now. */
  flush(): void;
} {
  const q = {
    get: db.query<Job, [string]>(`SELECT ${JOB} FROM jobs WHERE id = ?`),
    insert: db.query<
      Job,
      {
        id: string;
        workspace: string;
        task: string;
        created_at: number;
        now: number;
        line_count: number;
        byte_count: number;
      }
    >(`INSERT INTO jobs (id, workspace, task, status, created_at, updated_at, last_activity_at, line_count, byte_count)
       VALUES ($id, $workspace, $task, 'pending', $created_at, $now, $now, $line_count, $byte_count) RETURNING ${JOB}`),
    edit: db.query<Job, { id: string; workspace: string; task: string; created_at: number; now: number }>(
      `UPDATE jobs SET workspace = $workspace, task = $task, created_at = $created_at, updated_at = $now
       WHERE id = $id RETURNING ${JOB}`,
    ),
    // The index entry's due test reads the old ckpt_line (SET sees the row before the update); RETURNING
    // gives the new one, which equals `first` exactly when an entry is due. No indexed column is SET (status
    // is, by `start`, once per job): an index entry rewritten on every push cost a third of the commit.
    appended: db.query<
      Job & { ckpt_line: number },
      {
        id: string;
        first: number;
        offset: number;
        every: number;
        lines: number;
        bytes: number;
        now: number;
        late: number;
      }
    >(`UPDATE jobs SET line_count = line_count + $lines, byte_count = byte_count + $bytes,
         late_lines = late_lines + $late, updated_at = $now, last_activity_at = $now,
         ckpt_offset = CASE WHEN $first - ckpt_line >= $every THEN $offset ELSE ckpt_offset END,
         ckpt_line = CASE WHEN $first - ckpt_line >= $every THEN $first ELSE ckpt_line END
       WHERE id = $id RETURNING ${JOB}, ckpt_line`),
    /** A job's first lines start it. */
    start: db.query<null, [string]>("UPDATE jobs SET status = 'running' WHERE id = ? AND status = 'pending'"),
    touch: db.query<null, { id: string; now: number }>(
      "UPDATE jobs SET last_activity_at = $now WHERE id = $id",
    ),
    finish: db.query<Job, { id: string; status: string; error: string | null; now: number }>(
      `UPDATE jobs SET status = $status, error = $error, finished_at = $now, updated_at = $now
       WHERE id = $id RETURNING ${JOB}`,
    ),
    settle: db.query<Job, { id: string; now: number }>(
      `UPDATE jobs SET settled_at = $now WHERE id = $id RETURNING ${JOB}`,
    ),
    stale: db.query<Job, [number]>(
      `SELECT ${JOB} FROM jobs WHERE status IN ('pending', 'running') AND last_activity_at < ?`,
    ),
    unsettled: db.query<Job, []>(
      `SELECT ${JOB} FROM jobs WHERE finished_at IS NOT NULL AND settled_at IS NULL ORDER BY finished_at`,
    ),
    counts: db.query<{ status: string; n: number }, []>(
      "SELECT status, count(*) AS n FROM jobs GROUP BY status",
    ),
    batch: db.query<{ first: number; next: number; truncated: number; held: number }, [string, string]>(
      "SELECT first, next, truncated, held FROM batches WHERE job_id = ? AND key = ?",
    ),
    addBatch: db.query<null, [string, string, number, number, number, number]>(
      "INSERT INTO batches (job_id, key, first, next, truncated, held) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    addCheckpoint: db.query<null, [string, number, number]>(
      "INSERT OR REPLACE INTO line_index (job_id, line, offset) VALUES (?, ?, ?)",
    ),
    checkpoint: db.query<{ line: number; offset: number }, [string, number]>(
      "SELECT line, offset FROM line_index WHERE job_id = ? AND line <= ? ORDER BY line DESC LIMIT 1",
    ),
  };

  const create = db.transaction((job: Parameters<JobsRepository["create"]>[0]): Job => {
    const row = q.insert.get({
      id: job.id,
      workspace: job.workspace,
      task: job.task,
      created_at: job.created_at,
      now: job.now,
      line_count: job.line_count,
      byte_count: job.byte_count,
    })!;
    for (const [line, offset] of job.checkpoints) q.addCheckpoint.run(job.id, line, offset);
    return row;
  });

  /** One append's statements; run inside a transaction (its own, or its group's savepoint). */
  function commitAppend(c: AppendCommit): Job {
    const r = q.appended.get({
      id: c.id,
      first: c.first,
      offset: c.offset,
      every: c.checkpointEvery,
      lines: c.lines,
      bytes: c.bytes,
      now: c.now,
      late: c.late,
    });
    if (r === null) throw new Error(`job ${c.id} has no row to commit to`);
    const { ckpt_line, ...job } = r;
    if (job.status === "pending") {
      q.start.run(c.id);
      job.status = "running";
    }
    // Equal to `first` also when the last entry is at `first` already (a run of no lines): the same entry again.
    if (ckpt_line === c.first && c.first > 0) q.addCheckpoint.run(c.id, c.first, c.offset);
    if (c.key !== undefined) {
      const a = c.key.answer;
      q.addBatch.run(c.id, c.key.key, a.first, a.next, a.truncated, a.held);
    }
    if (c.window !== undefined) caps.put(c.window);
    return job;
  }
  // Appends of concurrent requests (other jobs) share a transaction: see group-commit.ts.
  const appends = groupCommit(db, commitAppend);

  const jobs: JobsRepository = {
    get: async (id) => q.get.get(id),
    create: async (job) => create(job),
    edit: async (id, f, now) => q.edit.get({ id, ...f, now })!,
    touch: async (id, now) => {
      q.touch.run({ id, now });
    },
    commitAppend: (c) =>
      appends.commit(c).catch((e: unknown) => {
        throw stateError(e);
      }),
    finish: async (id, status, error, now) => q.finish.get({ id, status, error, now })!,
    settle: async (id, now) => q.settle.get({ id, now })!,
    stale: async (cutoff) => q.stale.all(cutoff),
    unsettled: async () => q.unsettled.all(),
    async list(filter: JobFilter) {
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
      if (filter.after !== undefined) {
        // The list's own order, so a page starts exactly after the last job of the one before it.
        where.push("(created_at < $after_at OR (created_at = $after_at AND id < $after_id))");
        params.after_at = filter.after.created_at;
        params.after_id = filter.after.id;
      }
      const sql = `SELECT ${JOB} FROM jobs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
        ORDER BY created_at DESC, id DESC LIMIT $limit`;
      return db.query<Job, Record<string, string | number>>(sql).all(params);
    },
    async countByStatus() {
      const out = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<
        (typeof STATUSES)[number],
        number
      >;
      for (const { status, n } of q.counts.all()) out[status as (typeof STATUSES)[number]] = n;
      return out;
    },
  };

  return {
    jobs,
    flush: appends.flush,
    idempotency: { get: async (jobId, key) => q.batch.get(jobId, key) },
    lineIndex: { at: async (jobId, line) => q.checkpoint.get(jobId, line) ?? { line: 0, offset: 0 } },
  };
}
