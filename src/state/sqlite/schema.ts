// Every table of the embedded state, and the ordered migrations that bring any earlier database to them.
import type { Database } from "bun:sqlite";

export interface Migration {
  version: number;
  what: string;
  up(db: Database): void;
}

/**
 * Applied in order, each in its own transaction with its version (`PRAGMA user_version`, which SQLite writes
 * in the same transaction). Append new ones; never edit one that shipped. Columns are only ever added, with
 * defaults, so an older binary still reads a newer database.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    what: "the schema of version 1; a database made before versions (tables created as needed) is brought to it",
    up(db) {
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
      db.run("CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (finished_at, id)");
      // Idempotency keys with the answer each batch got.
      db.run(`CREATE TABLE IF NOT EXISTS batches (
        job_id TEXT NOT NULL, key TEXT NOT NULL, first INTEGER NOT NULL, next INTEGER NOT NULL,
        truncated INTEGER NOT NULL DEFAULT 0, held INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (job_id, key)
      ) WITHOUT ROWID`);
      addMissingColumns(db, "batches", { held: "INTEGER NOT NULL DEFAULT 0" });
      // The sparse line index: (line, byte offset) every ~1024 lines.
      db.run(`CREATE TABLE IF NOT EXISTS line_index (
        job_id TEXT NOT NULL, line INTEGER NOT NULL, offset INTEGER NOT NULL,
        PRIMARY KEY (job_id, line)
      ) WITHOUT ROWID`);
      db.run(`CREATE TABLE IF NOT EXISTS job_caps (
        job_id TEXT PRIMARY KEY, cur INTEGER NOT NULL DEFAULT 0,
        seg0_bytes INTEGER NOT NULL DEFAULT 0, seg0_lines INTEGER NOT NULL DEFAULT 0,
        seg1_bytes INTEGER NOT NULL DEFAULT 0, seg1_lines INTEGER NOT NULL DEFAULT 0,
        rel0 INTEGER NOT NULL DEFAULT 0, rel1 INTEGER NOT NULL DEFAULT 0,
        elided_lines INTEGER NOT NULL DEFAULT 0, elided_bytes INTEGER NOT NULL DEFAULT 0,
        event_done INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID`);
      addMissingColumns(db, "job_caps", {
        rel0: "INTEGER NOT NULL DEFAULT 0",
        rel1: "INTEGER NOT NULL DEFAULT 0",
        event_done: "INTEGER NOT NULL DEFAULT 0",
      });
      // The durable archive queue: one row per job, written before every attempt.
      db.run(`CREATE TABLE IF NOT EXISTS archives (
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
      addMissingColumns(db, "archives", { sha256: "TEXT" });
      db.run("CREATE INDEX IF NOT EXISTS archives_state ON archives (state)");
      db.run("CREATE INDEX IF NOT EXISTS archives_key ON archives (key)");
      // Archive objects of deleted jobs, queued in the commit that deletes their rows: never forgotten.
      db.run(`CREATE TABLE IF NOT EXISTS retention_objects (
        key TEXT PRIMARY KEY,
        job_id TEXT NOT NULL,
        queued_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
      ) WITHOUT ROWID`);
    },
  },
  {
    version: 2,
    what: "job_secrets: the registered secrets of jobs (sealed, or only their count without a key)",
    up(db) {
      db.run(`CREATE TABLE IF NOT EXISTS job_secrets (
        job_id TEXT PRIMARY KEY,
        count INTEGER NOT NULL,
        sealed BLOB,
        forgotten_at INTEGER,
        updated_at INTEGER NOT NULL
      ) WITHOUT ROWID`);
    },
  },
  {
    version: 3,
    what: "archives.claimed_key: the key a job's archive may be written at, looked at before the first upload",
    up(db) {
      // An object at the key that stroem-logs did not write is never replaced (archive/foreign.ts). Rows that
      // already made an attempt wrote their key themselves: it is theirs.
      addMissingColumns(db, "archives", { claimed_key: "TEXT" });
      db.run("UPDATE archives SET claimed_key = key WHERE claimed_key IS NULL AND attempts > 0");
    },
  },
  {
    version: 4,
    what: "jobs_status indexes the status alone: an append, which sets last_activity_at, rewrites no index entry",
    up(db) {
      // (status, last_activity_at) served the stale sweep, which now reads the pending and running jobs by
      // status and compares their activity; every push paid for the other column: ~30 of ~90 us per commit.
      db.run("DROP INDEX IF EXISTS jobs_status");
      db.run("CREATE INDEX jobs_status ON jobs (status)");
    },
  },
];

export const SCHEMA_VERSION = MIGRATIONS.at(-1)!.version;

/**
 * Brings the database to `SCHEMA_VERSION`; returns the version it had, and whether it was empty (created now).
 * A newer database is left as it is.
 */
export function migrate(db: Database): { from: number; to: number; created: boolean } {
  const from = db.query<{ user_version: number }, []>("PRAGMA user_version").get()!.user_version;
  const created =
    db.query<{ n: number }, []>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get()!.n ===
    0;
  for (const m of MIGRATIONS) {
    if (m.version <= from) continue;
    db.transaction(() => {
      m.up(db);
      db.run(`PRAGMA user_version = ${m.version}`);
    })();
  }
  return { from, to: Math.max(from, SCHEMA_VERSION), created };
}

/** Adds the columns a later version defines to a table an earlier one created (`CREATE TABLE IF NOT EXISTS` keeps it). */
function addMissingColumns(db: Database, table: string, columns: Record<string, string>): void {
  const have = new Set(
    db
      .query<{ name: string }, []>(`PRAGMA table_info(${table})`)
      .all()
      .map((c) => c.name),
  );
  for (const [name, type] of Object.entries(columns)) {
    if (!have.has(name)) db.run(`ALTER TABLE ${table} ADD COLUMN ${name} ${type}`);
  }
}
