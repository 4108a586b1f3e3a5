// The embedded state: job rows, idempotency keys and the sparse line index, in SQLite (WAL).
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

import type { JobStatus } from "../protocol/status.ts";

export interface JobRow {
  id: string;
  workspace: string;
  task: string;
  status: JobStatus;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  last_activity_at: number;
  error: string | null;
  line_count: number;
  byte_count: number;
  /** Lines pushed after the job ended (a late final flush). */
  late_lines: number;
  ckpt_line: number;
  ckpt_offset: number;
  /** When the terminal pipeline's completion work (hooks) finished; null while it has not. */
  settled_at: number | null;
}

export interface BatchRow {
  first: number;
  next: number;
  truncated: number;
  /** Lines of the batch that went to the size-cap window. */
  held: number;
}

export type Db = ReturnType<typeof openDb>;

/** `fsync`: every commit is synced too (synchronous = FULL), so the row — the commit point — survives a power loss with the log bytes it covers. */
export function openDb(path: string, opts: { fsync?: boolean } = {}) {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { create: true, strict: true });
  db.run("PRAGMA journal_mode = WAL");
  // NORMAL in WAL mode: a commit survives a crash of the process; fsync happens at checkpoints.
  db.run(`PRAGMA synchronous = ${opts.fsync ? "FULL" : "NORMAL"}`);
  db.run("PRAGMA busy_timeout = 5000");
  db.run(`CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    task TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    finished_at INTEGER,
    last_activity_at INTEGER NOT NULL,
    error TEXT,
    line_count INTEGER NOT NULL DEFAULT 0,
    byte_count INTEGER NOT NULL DEFAULT 0,
    late_lines INTEGER NOT NULL DEFAULT 0,
    ckpt_line INTEGER NOT NULL DEFAULT 0,
    ckpt_offset INTEGER NOT NULL DEFAULT 0,
    settled_at INTEGER
  )`);
  db.run("CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at DESC)");
  db.run("CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, last_activity_at)");
  db.run(`CREATE TABLE IF NOT EXISTS batches (
    job_id TEXT NOT NULL, key TEXT NOT NULL, first INTEGER NOT NULL, next INTEGER NOT NULL,
    truncated INTEGER NOT NULL DEFAULT 0, held INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, key)
  ) WITHOUT ROWID`);
  addMissingColumns(db, "batches", { held: "INTEGER NOT NULL DEFAULT 0" });
  db.run(`CREATE TABLE IF NOT EXISTS line_index (
    job_id TEXT NOT NULL, line INTEGER NOT NULL, offset INTEGER NOT NULL,
    PRIMARY KEY (job_id, line)
  ) WITHOUT ROWID`);

  const q = {
    get: db.query<JobRow, [string]>("SELECT * FROM jobs WHERE id = ?"),
    insert: db.query<
      JobRow,
      {
        id: string;
        workspace: string;
        task: string;
        status: string;
        created_at: number;
        now: number;
        line_count: number;
        byte_count: number;
      }
    >(`INSERT INTO jobs (id, workspace, task, status, created_at, updated_at, last_activity_at, line_count, byte_count)
       VALUES ($id, $workspace, $task, $status, $created_at, $now, $now, $line_count, $byte_count) RETURNING *`),
    update: db.query<
      JobRow,
      { id: string; workspace: string; task: string; created_at: number; now: number }
    >(
      `UPDATE jobs SET workspace = $workspace, task = $task, created_at = $created_at, updated_at = $now
       WHERE id = $id RETURNING *`,
    ),
    appended: db.query<
      JobRow,
      {
        id: string;
        lines: number;
        bytes: number;
        now: number;
        late: number;
        ckpt_line: number;
        ckpt_offset: number;
      }
    >(`UPDATE jobs SET line_count = line_count + $lines, byte_count = byte_count + $bytes,
         late_lines = late_lines + $late, updated_at = $now, last_activity_at = $now,
         status = CASE WHEN status = 'pending' THEN 'running' ELSE status END,
         ckpt_line = $ckpt_line, ckpt_offset = $ckpt_offset
       WHERE id = $id RETURNING *`),
    touch: db.query<null, { id: string; now: number }>(
      "UPDATE jobs SET last_activity_at = $now WHERE id = $id",
    ),
    finish: db.query<JobRow, { id: string; status: string; error: string | null; now: number }>(
      `UPDATE jobs SET status = $status, error = $error, finished_at = $now, updated_at = $now
       WHERE id = $id RETURNING *`,
    ),
    batch: db.query<BatchRow, [string, string]>(
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
    stale: db.query<JobRow, [number]>(
      "SELECT * FROM jobs WHERE status IN ('pending', 'running') AND last_activity_at < ?",
    ),
    settle: db.query<null, { id: string; now: number }>("UPDATE jobs SET settled_at = $now WHERE id = $id"),
    unsettled: db.query<JobRow, []>(
      "SELECT * FROM jobs WHERE finished_at IS NOT NULL AND settled_at IS NULL ORDER BY finished_at",
    ),
    deleteJob: db.query<null, [string]>("DELETE FROM jobs WHERE id = ?"),
    deleteBatches: db.query<null, [string]>("DELETE FROM batches WHERE job_id = ?"),
    deleteIndex: db.query<null, [string]>("DELETE FROM line_index WHERE job_id = ?"),
  };

  return { sqlite: db, q, close: () => db.close(false) };
}

/**
 * Adds the columns a newer version defines to a table an older version created (`CREATE TABLE IF NOT
 * EXISTS` leaves an existing table as it is). Columns are only ever added, with defaults, so an older
 * binary still reads the table.
 */
export function addMissingColumns(sqlite: Database, table: string, columns: Record<string, string>): void {
  const have = new Set(
    sqlite
      .query<{ name: string }, []>(`PRAGMA table_info(${table})`)
      .all()
      .map((c) => c.name),
  );
  for (const [name, type] of Object.entries(columns)) {
    if (!have.has(name)) sqlite.run(`ALTER TABLE ${table} ADD COLUMN ${name} ${type}`);
  }
}
